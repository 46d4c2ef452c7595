"""ascolto setup against the real broker: topics get the partitions, replication factor and
``min.insync.replicas`` of the settings; topics of another partition count, and a replication
factor above the brokers, are refused with one line."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from ascolto.clients import kafka_options
from ascolto.config import ConfigError, KafkaSettings, Settings
from ascolto.topics import MIN_INSYNC, ensure_topics, group_specs, topic_specs
from tests.support.waiting import wait_until


@pytest.fixture
def kafka(base_settings: Settings) -> Iterator[KafkaSettings]:
    """The stack's settings with a prefix of the test's own; its topics deleted after."""
    prefix = f"p{uuid.uuid4().hex[:8]}."
    yield dataclasses.replace(base_settings.kafka, topic_prefix=prefix)
    admin = KafkaAdminClient(**kafka_options(base_settings.kafka))
    try:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
    finally:
        admin.close()


def min_insync(admin: KafkaAdminClient, names: list[str]) -> dict[str, tuple[str, str]]:
    """Topic -> (value, where it comes from) of its min.insync.replicas."""
    asked = [ConfigResource(ConfigResourceType.TOPIC, n, configs={MIN_INSYNC: None}) for n in names]
    found = admin.describe_configs(asked, config_filter="all")["topic"]
    return {n: (c[MIN_INSYNC]["value"], c[MIN_INSYNC]["config_source"]) for n, c in found.items()}


def test_setup_refuses_topics_made_with_another_partition_count(kafka: KafkaSettings) -> None:
    kafka = dataclasses.replace(kafka, partitions=2)
    assert sorted(ensure_topics(kafka)) == sorted(topic_specs(kafka))
    assert ensure_topics(kafka) == []  # the same count: nothing to do
    # which topics the message names depends on the metadata the broker has spread by then
    with pytest.raises(ConfigError, match=r"ASCOLTO_PARTITIONS=3, but \S+ has 2"):
        ensure_topics(dataclasses.replace(kafka, partitions=3))


def test_topics_and_changelogs_get_the_replicas_and_min_insync_asked(kafka: KafkaSettings) -> None:
    app_id = kafka.topic("group")  # under the prefix: deleted with the topics
    names = sorted(topic_specs(kafka) | group_specs(app_id))
    assert sorted(ensure_topics(kafka, app_id)) == names
    admin = KafkaAdminClient(**kafka_options(kafka))
    try:
        admin.wait_for_topics(names)  # the metadata of a topic just made can lag
        for topic in admin.describe_topics(names):
            assert len(topic["partitions"]) == kafka.partitions, topic["name"]
            for partition in topic["partitions"]:
                assert len(partition["replica_nodes"]) == kafka.replication_factor
        wanted = (str(kafka.min_insync_replicas), "DYNAMIC_TOPIC_CONFIG")  # the topic's own
        assert min_insync(admin, names) == dict.fromkeys(names, wanted)

        # an existing topic with another value (one made before the setting) gets the setting
        changed = [ConfigResource(ConfigResourceType.TOPIC, kafka.raw, configs={MIN_INSYNC: "2"})]
        admin.alter_configs(changed, incremental=True)
        # a broker applies a config change a moment after the controller took it
        wait_until(lambda: min_insync(admin, [kafka.raw])[kafka.raw][0] == "2", 10, "the change")
        assert ensure_topics(kafka, app_id) == []
        set_again = wait_until(
            lambda: min_insync(admin, [kafka.raw])[kafka.raw] == wanted, 10, "setup's"
        )
        assert set_again and min_insync(admin, names) == dict.fromkeys(names, wanted)
    finally:
        admin.close()


def test_a_replication_factor_above_the_brokers_is_refused(kafka: KafkaSettings) -> None:
    admin = KafkaAdminClient(**kafka_options(kafka))
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        asked = dataclasses.replace(kafka, replication_factor=brokers + 2, min_insync_replicas=2)
        with pytest.raises(ConfigError) as refused:
            ensure_topics(asked, kafka.topic("group"))
        assert str(refused.value) == (
            f"ASCOLTO_REPLICATION_FACTOR={brokers + 2}, but the Kafka cluster has {brokers} "
            f"broker{'s' if brokers > 1 else ''}: set it to at most {brokers}"
        )
        assert not [t for t in admin.list_topics() if t.startswith(kafka.topic_prefix)]
    finally:
        admin.close()
