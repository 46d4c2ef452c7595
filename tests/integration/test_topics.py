"""ascolto setup against the real broker: topics of another partition count are refused."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from kafka import KafkaAdminClient

from ascolto.config import ConfigError, Settings
from ascolto.topics import ensure_topics, topic_specs


def test_setup_refuses_topics_made_with_another_partition_count(base_settings: Settings) -> None:
    kafka = dataclasses.replace(
        base_settings.kafka, topic_prefix=f"p{uuid.uuid4().hex[:8]}.", partitions=2
    )
    try:
        assert sorted(ensure_topics(kafka)) == sorted(topic_specs(kafka))
        assert ensure_topics(kafka) == []  # the same count: nothing to do
        with pytest.raises(ConfigError, match=r"ASCOLTO_PARTITIONS=3, but .*contacts.keyed has 2"):
            ensure_topics(dataclasses.replace(kafka, partitions=3))
    finally:
        admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
        try:
            admin.delete_topics(list(topic_specs(kafka)))
        finally:
            admin.close()
