"""Creates Ascolto's Kafka topics with their partitions and configs (idempotent)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from ascolto.config import KafkaSettings

WEEK_MS = str(7 * 24 * 3600 * 1000)


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


def ensure_topics(k: KafkaSettings) -> list[str]:
    """Create missing topics; return the names created."""
    admin = KafkaAdminClient(bootstrap_servers=k.bootstrap, client_id="ascolto-setup")
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=k.partitions, replication_factor=1, topic_configs=cfg)
            for name, cfg in topic_specs(k).items()
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
