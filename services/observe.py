"""Looking at what the pipeline produced: Elasticsearch counts, topic contents, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.search import client
from schemas import codec


def refresh(es: Elasticsearch, alias: str) -> None:
    es.indices.refresh(index=alias)


def count_ids(es: Elasticsearch, alias: str, ids: Collection[str]) -> int:
    """How many of these document ids are searchable now."""
    found = 0
    id_list = list(ids)
    for start in range(0, len(id_list), 5000):
        chunk = id_list[start : start + 5000]
        resp = es.count(index=alias, query={"ids": {"values": chunk}})
        found += resp["count"]
    return found


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.5)


def wait_searchable(
    settings: Settings, es: Elasticsearch, ids: Collection[str], timeout_s: float = 120
) -> None:
    """Return once every id is searchable in the contacts alias (with its refresh)."""
    alias = settings.elastic.contacts
    wait_until(lambda: count_ids(es, alias, ids) >= len(ids), timeout_s, f"{len(ids)} contacts")


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(**kafka_options(settings.kafka), enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def read_topic(
    settings: Settings, topic: str, since: dict[int, int] | None = None, timeout_s: float = 10
) -> list[tuple[bytes | None, dict[str, Any] | None]]:
    """Every (key, decoded value) from ``since`` offsets (default: the beginning) to the end."""
    consumer = KafkaConsumer(
        **kafka_options(settings.kafka),
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, (since or {}).get(tp.partition, 0))
        out: list[tuple[bytes | None, dict[str, Any] | None]] = []
        remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.offset < ends[tp]:
                        out.append((r.key, None if r.value is None else codec().decode(r.value)))
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        consumer.close()


class LagUnknown(RuntimeError):
    """The lag cannot be read now."""


def pipeline_lag(settings: Settings) -> int:
    """Messages not committed yet, over every topic the stream and index stages consume.

    Each stage commits a batch only after its results are written (Elasticsearch included),
    so zero lag means everything sent so far is processed and indexed. Raises LagUnknown
    while a topic's partitions are not known.
    """
    k, w = settings.kafka, settings.worker
    topics_of = {
        w.app_id: {k.raw, k.keyed},
        w.index_group: {k.enriched, k.conversations, k.sla_events},
    }
    topics = set().union(*topics_of.values())
    admin = KafkaAdminClient(**kafka_options(k))
    consumer = KafkaConsumer(**kafka_options(k), enable_auto_commit=False)
    try:
        groups = admin.list_group_offsets({group: None for group in topics_of})
        committed = {
            tp: meta.offset
            for group, its_topics in topics_of.items()
            for tp, meta in groups.get(group, {}).items()
            if tp.topic in its_topics
        }
        tps = []
        for topic in sorted(topics):
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:  # no metadata (yet): counting nothing would read as settled
                raise LagUnknown(f"no partitions known for {topic}")
            tps += [TopicPartition(topic, p) for p in partitions]
        ends = consumer.end_offsets(tps)
        return sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())
    finally:
        consumer.close()
        admin.close()


def wait_settled(settings: Settings, timeout_s: float = 300) -> None:
    """Return when the pipeline has processed everything (zero lag, twice in a row)."""
    es = client(settings.elastic)
    calm = 0

    def settled() -> bool:
        nonlocal calm
        try:
            lag: int | None = pipeline_lag(settings)
        except LagUnknown:
            lag = None
        calm = calm + 1 if lag == 0 else 0
        return calm >= 2

    wait_until(settled, timeout_s, "the pipeline to process everything")
    for alias in (settings.elastic.contacts, settings.elastic.conversations):
        es.indices.refresh(index=alias)
