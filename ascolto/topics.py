"""Creates Ascolto's Kafka topics with their partitions, replicas and configs (idempotent)."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from ascolto import sizing
from ascolto.clients import kafka_options
from ascolto.config import KafkaSettings, RetentionSettings

log = logging.getLogger("ascolto.setup")

MIN_INSYNC = "min.insync.replicas"
RETENTION = "retention.ms"
# A compacted topic keeps a superseded value until the cleaner reaches it, which a quiet topic
# may never do: this bounds how long an erased person's old record outlives its tombstone.
COMPACTION_LAG = "max.compaction.lag.ms"
KEPT_IN_STEP = (RETENTION, COMPACTION_LAG)  # set again on existing topics that differ

# The worker's faust tables (streams.app), whose changelog topics faust names after them.
DIRECTORY_TABLE = "customer-directory"
TIMELINES_TABLE = "timelines"


def topic_specs(k: KafkaSettings) -> dict[str, dict[str, str]]:
    """Topic name -> configs. Every topic has ``k.partitions`` partitions (co-partitioned);
    every retention comes from one settings block (k.retention, docs/privacy.md)."""
    r = k.retention
    kept = {RETENTION: str(r.topics_ms)}
    keyed_latest = {"cleanup.policy": "compact,delete"} | kept
    return {
        k.raw: kept,
        k.keyed: kept,
        k.enriched: keyed_latest,
        k.conversations: keyed_latest,
        k.dlq: {RETENTION: str(r.dlq_ms)},
        # written after the dead letter it names, a marker outlives it: no compaction lag needed
        k.dlq_replayed: {"cleanup.policy": "compact,delete", RETENTION: str(r.dlq_ms)},
        k.customers: {"cleanup.policy": "compact", COMPACTION_LAG: str(r.topics_ms)},
        k.sla_events: kept,
        k.audit: {"cleanup.policy": "delete", RETENTION: str(r.audit_ms)},
        k.schemas: {"cleanup.policy": "compact"},  # kept for as long as a message may need it
    }


def changelog_specs(
    app_id: str, retention: RetentionSettings | None = None
) -> dict[str, dict[str, str]]:
    """The tables' changelog topics, named and configured as faust makes them. A worker makes
    them on its first start, but its consumer can subscribe before its metadata shows them: the
    group's assignment then leaves them out until aiokafka's next metadata refresh, minutes
    later, and with them the recovery of the worker's timelines (seen in 2 of 57 runs of the
    two-worker crash test, as miscounted duplicates)."""
    lag = str((retention or RetentionSettings()).topics_ms)
    return {
        f"{app_id}-{table}-changelog": {"cleanup.policy": "compact", COMPACTION_LAG: lag}
        for table in (DIRECTORY_TABLE, TIMELINES_TABLE)
    }


def policy_history_topic(app_id: str) -> str:
    """The worker group's SLA policy versions (streams/policy_reload.py): compacted, and every
    key is a version of its own, so none is ever dropped."""
    return f"{app_id}-sla-policy-history"


def group_specs(
    app_id: str, retention: RetentionSettings | None = None
) -> dict[str, dict[str, str]]:
    """Every topic of the worker group ``app_id``: its tables' changelogs and its SLA policy
    history."""
    return changelog_specs(app_id, retention) | {
        policy_history_topic(app_id): {"cleanup.policy": "compact"}
    }


def ensure_topics(k: KafkaSettings, app_id: str | None = None) -> list[str]:
    """Create missing topics, and those of the worker group ``app_id`` if given;
    return the names created. Refuses settings the cluster or the existing topics cannot
    hold (ascolto.sizing); sets ``min.insync.replicas``, ``retention.ms`` and
    ``max.compaction.lag.ms`` on existing topics that differ."""
    specs = topic_specs(k) | (group_specs(app_id, k.retention) if app_id else {})
    durability = {MIN_INSYNC: str(k.min_insync_replicas)}
    admin = KafkaAdminClient(**kafka_options(k), client_id="ascolto-setup")
    try:
        for warning in sizing.check_kafka(k, len(admin.describe_cluster()["brokers"])):
            log.warning("%s", warning)
        existing = set(admin.list_topics())
        found = [name for name in specs if name in existing]
        sizing.check_topics(k, _shapes(admin, found))
        _set_differing(admin, {n: durability | _kept_in_step(specs[n]) for n in found})
        created: list[str] = []
        for name, cfg in specs.items():
            if name in existing:
                continue
            topic = NewTopic(
                name, k.partitions, k.replication_factor, topic_configs=cfg | durability
            )
            try:
                admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def _shapes(admin: KafkaAdminClient, names: list[str]) -> dict[str, sizing.TopicShape]:
    if not names:
        return {}
    return {
        t["name"]: sizing.TopicShape(
            partitions=len(t["partitions"]),
            replicas=min(len(p["replica_nodes"]) for p in t["partitions"]),
        )
        for t in admin.describe_topics(names)
    }


def _kept_in_step(spec: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in spec.items() if name in KEPT_IN_STEP}


def _set_differing(admin: KafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    """Set the configs whose effective value differs on each topic (a topic made before a
    setting has the broker's, or the setting's old value), incrementally: their other configs
    stay. A refusal (no AlterConfigs permission, say) is a warning: the topics work, with the
    old value."""
    if not wanted:
        return
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, n, configs=dict.fromkeys(cfg))
        for n, cfg in wanted.items()
    ]
    described = admin.describe_configs(resources, config_filter="all")["topic"]
    differ = {
        n: {name: v for name, v in cfg.items() if described[n][name]["value"] != v}
        for n, cfg in wanted.items()
    }
    differ = {n: cfg for n, cfg in differ.items() if cfg}
    if not differ:
        return
    for name, cfg in sorted(differ.items()):
        log.warning("setting %s on %s", ", ".join(f"{k}={v}" for k, v in cfg.items()), name)
    results = admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, configs=cfg) for n, cfg in differ.items()],
        incremental=True,
    )["topic"]
    for name, result in sorted(results.items()):
        if result != "OK":
            asked = ", ".join(differ[name])
            log.warning("%s of %s not set: %s (kafka-configs.sh --alter)", asked, name, result)
