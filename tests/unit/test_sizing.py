"""Which replication and sizing settings setup refuses, warns of, or takes, for the brokers,
data nodes, topics and indices found (ascolto.sizing: no cluster needed)."""

from __future__ import annotations

import json

import pytest

from ascolto.config import ConfigError, Settings
from ascolto.search import TEMPLATE_DIR, template_body
from ascolto.sizing import TopicShape, check_elastic, check_index, check_kafka, check_topics


def settings(**env: str) -> Settings:
    return Settings.from_env({f"ASCOLTO_{name}": value for name, value in env.items()})


def test_the_defaults_fit_one_broker_and_one_data_node_without_a_warning() -> None:
    s = settings()
    assert check_kafka(s.kafka, brokers=1) == []
    assert check_elastic(s.elastic, data_nodes=1) == []
    assert check_index(s.elastic, "ascolto-contacts-v1", shards=1) == []


@pytest.mark.parametrize(("factor", "brokers"), [(3, 1), (2, 1), (4, 3)])
def test_a_replication_factor_above_the_brokers_is_refused(factor: int, brokers: int) -> None:
    s = settings(REPLICATION_FACTOR=str(factor))
    with pytest.raises(ConfigError) as refused:
        check_kafka(s.kafka, brokers=brokers)
    assert str(refused.value).startswith(
        f"ASCOLTO_REPLICATION_FACTOR={factor}, but the Kafka cluster has {brokers} broker"
    )
    assert f"set it to at most {brokers}" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_cluster_of_three_takes_three_replicas_and_two_in_sync() -> None:
    s = settings(REPLICATION_FACTOR="3", MIN_INSYNC_REPLICAS="2")
    assert check_kafka(s.kafka, brokers=3) == []
    assert check_kafka(s.kafka, brokers=5) == []


def test_min_insync_above_the_replication_factor_is_refused() -> None:
    s = settings(REPLICATION_FACTOR="2", MIN_INSYNC_REPLICAS="3")
    with pytest.raises(ConfigError, match=r"^ASCOLTO_MIN_INSYNC_REPLICAS=3 is above .*=2"):
        check_kafka(s.kafka, brokers=3)


def test_min_insync_equal_to_a_factor_above_one_is_a_warning() -> None:
    s = settings(REPLICATION_FACTOR="3", MIN_INSYNC_REPLICAS="3")
    (warning,) = check_kafka(s.kafka, brokers=3)
    assert "any one replica's broker is down" in warning


def test_existing_topics_of_another_partition_count_name_the_count_and_the_fix() -> None:
    s = settings()  # the default count
    found = {"contacts.raw": TopicShape(4, 1), "contacts.keyed": TopicShape(4, 1)}
    with pytest.raises(ConfigError) as refused:
        check_topics(s.kafka, found)
    message = str(refused.value)
    assert message.startswith(f"ASCOLTO_PARTITIONS={s.kafka.partitions}, but contacts.keyed has 4")
    assert "set ASCOLTO_PARTITIONS=4 to keep these topics" in message
    assert "`make clean` then `make up`" in message


def test_topics_of_mixed_counts_are_refused_without_naming_one_count() -> None:
    found = {"a": TopicShape(4, 1), "b": TopicShape(6, 1), "c": TopicShape(12, 1)}
    with pytest.raises(ConfigError, match=r"a has 4, b has 6: .*set the topics' count"):
        check_topics(settings(PARTITIONS="12").kafka, found)


def test_existing_topics_with_fewer_replicas_than_asked_are_refused_with_the_fix() -> None:
    s = settings(PARTITIONS="4", REPLICATION_FACTOR="3", MIN_INSYNC_REPLICAS="2")
    found = {"contacts.raw": TopicShape(4, 3), "customers": TopicShape(4, 1)}
    with pytest.raises(ConfigError) as refused:
        check_topics(s.kafka, found)
    message = str(refused.value)
    assert message.startswith("ASCOLTO_REPLICATION_FACTOR=3, but customers has 1 replicas")
    assert "contacts.raw" not in message
    assert "kafka-reassign-partitions.sh" in message


def test_existing_topics_of_the_same_count_and_more_replicas_are_taken() -> None:
    s = settings(PARTITIONS="4")
    check_topics(s.kafka, {"contacts.raw": TopicShape(4, 3), "customers": TopicShape(4, 1)})
    check_topics(s.kafka, {})


@pytest.mark.parametrize(
    ("replicas", "nodes", "unassigned"), [(1, 1, 1), (2, 1, 2), (2, 2, 1), (1, 2, 0), (0, 1, 0)]
)
def test_es_replicas_without_a_node_to_go_to_are_a_warning(
    replicas: int, nodes: int, unassigned: int
) -> None:
    warnings = check_elastic(settings(ES_REPLICAS=str(replicas)).elastic, data_nodes=nodes)
    if unassigned:
        (warning,) = warnings
        many = "replica" if unassigned == 1 else "replicas"
        assert f": {unassigned} {many} of each shard cannot be assigned" in warning
        assert f"until {replicas + 1} data nodes are up" in warning
    else:
        assert warnings == []


def test_an_index_made_with_other_shards_is_a_warning_not_a_refusal() -> None:
    e = settings(ES_SHARDS="3").elastic
    (warning,) = check_index(e, "ascolto-contacts-v1", shards=1)
    assert warning.startswith("ASCOLTO_ES_SHARDS=3, but ascolto-contacts-v1 has 1")
    assert check_index(e, "ascolto-contacts-v1", shards=3) == []


def test_the_templates_mappings_get_the_shards_and_replicas_asked() -> None:
    e = settings(ES_SHARDS="3", ES_REPLICAS="2").elastic
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        body = template_body(path, e)
        assert body["settings"]["number_of_shards"] == 3
        assert body["settings"]["number_of_replicas"] == 2
        assert body["mappings"] == json.loads(path.read_text())["mappings"]


def test_a_refusal_names_three_topics_and_counts_the_rest() -> None:
    found = {f"t{n}": TopicShape(4, 1) for n in range(9)}
    with pytest.raises(ConfigError, match=r"but t0 has 4, t1 has 4, t2 has 4 and 6 more: "):
        check_topics(settings(PARTITIONS="12").kafka, found)
