"""Which replication and sizing settings can work on the clusters found: pure checks, no I/O.

``ascolto.topics`` and ``ascolto.search`` ask the clusters (brokers, data nodes, the topics and
indices that exist) and hand the answers here. A combination that cannot work is a
ConfigError, one line the CLI prints; one that works but is weaker than asked is a warning.
Why each is one or the other: docs/deploying.md, section "Sizing".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ascolto.config import ConfigError, ElasticSettings, KafkaSettings

# What a developer whose local stack made its topics with another count can do.
LOCAL_STACK_FIX = "on the local stack, `make clean` then `make up` makes them anew"


@dataclass(frozen=True)
class TopicShape:
    """An existing topic as the cluster describes it."""

    partitions: int
    replicas: int  # the fewest any of its partitions has


def check_kafka(k: KafkaSettings, brokers: int) -> list[str]:
    """Refuses a replication factor the cluster cannot hold; returns the warnings."""
    if k.replication_factor > brokers:
        raise ConfigError(
            f"ASCOLTO_REPLICATION_FACTOR={k.replication_factor}, but the Kafka cluster has "
            f"{_count(brokers, 'broker')}: set it to at most {brokers}"
        )
    if k.min_insync_replicas > k.replication_factor:
        raise ConfigError(
            f"ASCOLTO_MIN_INSYNC_REPLICAS={k.min_insync_replicas} is above "
            f"ASCOLTO_REPLICATION_FACTOR={k.replication_factor}: no write could be acknowledged"
        )
    if k.replication_factor > 1 and k.min_insync_replicas == k.replication_factor:
        return [
            f"ASCOLTO_MIN_INSYNC_REPLICAS={k.min_insync_replicas} equals the replication factor: "
            "every write stops while any one replica's broker is down"
        ]
    return []


def check_topics(k: KafkaSettings, found: Mapping[str, TopicShape]) -> None:
    """Refuses existing topics of another partition count, or with fewer replicas than asked."""
    wrong = {name: t.partitions for name, t in found.items() if t.partitions != k.partitions}
    if wrong:
        counts = sorted(set(wrong.values()))
        keep = f"ASCOLTO_PARTITIONS={counts[0]}" if len(counts) == 1 else "the topics' count"
        raise ConfigError(
            f"ASCOLTO_PARTITIONS={k.partitions}, but {_listed(wrong)}: the worker maps customers "
            f"to partitions by it; set {keep} to keep these topics, or make new topics and "
            f"replay ({LOCAL_STACK_FIX})"
        )
    fewer = {n: t.replicas for n, t in found.items() if t.replicas < k.replication_factor}
    if fewer:
        raise ConfigError(
            f"ASCOLTO_REPLICATION_FACTOR={k.replication_factor}, but {_listed(fewer)} "
            "replicas: add replicas with kafka-reassign-partitions.sh (docs/deploying.md#sizing), "
            "or set the factor the topics have"
        )


def check_elastic(e: ElasticSettings, data_nodes: int) -> list[str]:
    """Warnings: replicas without a node to go to wait, unassigned, and the cluster is yellow."""
    if e.replicas > data_nodes - 1:
        return [
            f"ASCOLTO_ES_REPLICAS={e.replicas}, but Elasticsearch has "
            f"{_count(data_nodes, 'data node')}: "
            f"{_count(e.replicas + 1 - data_nodes, 'replica')} of each shard cannot be assigned "
            f"(health yellow) until {e.replicas + 1} data nodes are up"
        ]
    return []


def check_index(e: ElasticSettings, index: str, shards: int) -> list[str]:
    """Warnings for an existing index made with another number of primary shards."""
    if shards != e.shards:
        return [
            f"ASCOLTO_ES_SHARDS={e.shards}, but {index} has {shards}: an index's shards are "
            "fixed when it is made; the setting applies to the next index version"
        ]
    return []


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listed(counts: Mapping[str, int], most: int = 3) -> str:
    named = [f"{name} has {n}" for name, n in sorted(counts.items())]
    more = f" and {len(named) - most} more" if len(named) > most else ""
    return ", ".join(named[:most]) + more
