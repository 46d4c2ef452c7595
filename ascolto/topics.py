"""Creates Ascolto's Kafka topics with their partitions and configs (idempotent)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from ascolto.config import ConfigError, KafkaSettings

WEEK_MS = str(7 * 24 * 3600 * 1000)

# The worker's faust tables (streams.app), whose changelog topics faust names after them.
DIRECTORY_TABLE = "customer-directory"
TIMELINES_TABLE = "timelines"


def topic_specs(k: KafkaSettings) -> dict[str, dict[str, str]]:
    """Topic name -> configs. Every topic has ``k.partitions`` partitions (co-partitioned)."""
    keyed_latest = {"cleanup.policy": "compact,delete", "retention.ms": WEEK_MS}
    return {
        k.raw: {"retention.ms": WEEK_MS},
        k.keyed: {"retention.ms": WEEK_MS},
        k.enriched: keyed_latest,
        k.conversations: keyed_latest,
        k.dlq: {"retention.ms": str(30 * 24 * 3600 * 1000)},
        k.customers: {"cleanup.policy": "compact"},
        k.sla_events: {"retention.ms": WEEK_MS},
    }


def changelog_specs(app_id: str) -> dict[str, dict[str, str]]:
    """The tables' changelog topics, named and configured as faust makes them. A worker makes
    them on its first start, but its consumer can subscribe before its metadata shows them: the
    group's assignment then leaves them out until aiokafka's next metadata refresh, minutes
    later, and with them the recovery of the worker's timelines (seen in 2 of 57 runs of the
    two-worker crash test, as miscounted duplicates)."""
    return {
        f"{app_id}-{table}-changelog": {"cleanup.policy": "compact"}
        for table in (DIRECTORY_TABLE, TIMELINES_TABLE)
    }


def ensure_topics(k: KafkaSettings, app_id: str | None = None) -> list[str]:
    """Create missing topics, and the changelogs of the worker group ``app_id`` if given;
    return the names created."""
    specs = topic_specs(k) | (changelog_specs(app_id) if app_id else {})
    admin = KafkaAdminClient(bootstrap_servers=k.bootstrap, client_id="ascolto-setup")
    try:
        existing = set(admin.list_topics())
        _check_partitions(admin, [name for name in specs if name in existing], k.partitions)
        missing = [
            NewTopic(name, num_partitions=k.partitions, replication_factor=1, topic_configs=cfg)
            for name, cfg in specs.items()
            if name not in existing
        ]
        created: list[str] = []
        for topic in missing:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def _check_partitions(admin: KafkaAdminClient, names: list[str], expected: int) -> None:
    """Topics made with another partition count: the worker maps customers to partitions
    by ASCOLTO_PARTITIONS, and would drop the timelines it took for another worker's."""
    if not names:
        return
    wrong = {
        t["name"]: len(t["partitions"])
        for t in admin.describe_topics(names)
        if len(t["partitions"]) != expected
    }
    if wrong:
        found = ", ".join(f"{name} has {n}" for name, n in sorted(wrong.items()))
        raise ConfigError(
            f"ASCOLTO_PARTITIONS={expected}, but {found}: set ASCOLTO_PARTITIONS to the "
            "topics' count (changing it needs new topics and a replay)"
        )
