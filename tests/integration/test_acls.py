"""Least privilege on a real broker with the authorizer (the session's own,
tests/support/secured_kafka.py): the grants of ascolto/acls.py applied for this module's topics,
each principal refused outside them, and a pipeline of principals that works with them alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAuthorizationFailedError

from ascolto import acls
from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.topics import ensure_topics
from services import demo
from services.client import post_contacts
from services.observe import read_topic, wait_searchable
from tests.support.secured_kafka import SecuredBroker, pipeline_of_principals
from tests.support.stack import Pipeline, isolated_names


@pytest.fixture(scope="module")
def names(secured_broker: SecuredBroker) -> Iterator[dict[str, str]]:
    """This module's topic names, the topics made by the admin, the grants applied."""
    names = isolated_names()
    admin = secured_broker.settings_as(acls.ADMIN, names)
    ensure_topics(admin.kafka, admin.worker.app_id)
    acls.apply(admin)
    yield names


def as_user(broker: SecuredBroker, names: dict[str, str], user: str) -> Settings:
    return broker.settings_as(user, names)


def granted(broker: SecuredBroker, names: dict[str, str], user: str) -> set[acls.Grant]:
    admin = KafkaAdminClient(**kafka_options(as_user(broker, names, acls.ADMIN).kafka))
    try:
        present = acls.BrokerAcls(admin).present(user)
    finally:
        admin.close()
    return {g for g in map(acls.as_grant, present) if g is not None}


def send(settings: Settings, topic: str, **options: object) -> None:
    producer = KafkaProducer(**kafka_options(settings.kafka), max_block_ms=10_000, **options)
    try:
        producer.send(topic, key=b"k", value=b"not a contact").get(10)
    finally:
        producer.close()


def poll(settings: Settings, topic: str) -> None:
    consumer = KafkaConsumer(**kafka_options(settings.kafka), enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        consumer.poll(timeout_ms=5000)
    finally:
        consumer.close()


def test_the_broker_holds_exactly_the_grants_and_applying_again_changes_nothing(
    secured_broker: SecuredBroker, names: dict[str, str]
) -> None:
    admin = as_user(secured_broker, names, acls.ADMIN)
    wanted = acls.grants(admin)
    for user in acls.PRINCIPALS:
        assert granted(secured_broker, names, user) == set(acls.of([user], wanted)), user
    assert acls.apply(admin) == acls.Plan([], [])
    # an ACL given by hand is taken away, and only it
    extra = acls.Grant(acls.INGEST, "TOPIC", admin.kafka.keyed, "LITERAL", "READ")
    acls.sync(admin, [*acls.of([acls.INGEST], wanted), extra], [acls.INGEST])
    assert extra in granted(secured_broker, names, acls.INGEST)
    assert acls.apply(admin) == acls.Plan([], [extra])
    assert granted(secured_broker, names, acls.INGEST) == set(acls.of([acls.INGEST], wanted))


def test_ingest_writes_contacts_raw_and_nothing_else(
    secured_broker: SecuredBroker, names: dict[str, str]
) -> None:
    ingest = as_user(secured_broker, names, acls.INGEST)
    send(ingest, ingest.kafka.raw)  # its grant: idempotent, without IDEMPOTENT_WRITE
    with pytest.raises(TopicAuthorizationFailedError, match="contacts.keyed"):
        send(ingest, ingest.kafka.keyed)
    with pytest.raises(TopicAuthorizationFailedError, match="contacts.raw"):
        poll(ingest, ingest.kafka.raw)


def test_the_cli_reads_and_is_refused_writing(
    secured_broker: SecuredBroker, names: dict[str, str]
) -> None:
    cli = as_user(secured_broker, names, acls.CLI)
    assert read_topic(cli, cli.kafka.enriched, timeout_s=5) == []
    # without idempotence: the refusal is the topic's, not the producer id's
    with pytest.raises(TopicAuthorizationFailedError, match="contacts.enriched"):
        send(cli, cli.kafka.enriched, enable_idempotence=False)
    admin = KafkaAdminClient(**kafka_options(cli.kafka))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            admin.create_topics([NewTopic(cli.kafka.topic("made-by-cli"), 1, 1)])
    finally:
        admin.close()


@pytest.fixture(scope="module")
def pipeline(
    base_settings: Settings,
    secured_broker: SecuredBroker,
    names: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """The pipeline of principals on this module's topics (the grants are per principal:
    one set of topic names at a time)."""
    tmp = tmp_path_factory.mktemp("acls")
    with pipeline_of_principals(base_settings, secured_broker, tmp, names) as pipe:
        yield pipe


def test_a_pipeline_of_principals_processes_contacts_end_to_end(
    secured_broker: SecuredBroker, pipeline: Pipeline
) -> None:
    result = post_contacts(pipeline.ingest_url, demo.generate(n_threads=20, seed=3), batch_size=100)
    ids = set(result.accepted_ids)
    assert len(ids) > 40
    wait_searchable(pipeline.settings, pipeline.es, ids, timeout_s=120)
    admin = pipeline.settings
    assert len(read_topic(admin, admin.kafka.conversations)) > 0
    # and nothing the worker or the indexer did was refused on this pipeline's resources
    theirs = (admin.kafka.topic_prefix, f"{admin.worker.app_id}-", admin.worker.index_group)
    refused = [
        line
        for line in (secured_broker.run_dir / "logs" / "kafka.log").read_text().splitlines()
        if " is Denied " in line
        and any(f":{name}" in line for name in theirs)
        and any(f"User:{user} " in line for user in (acls.WORKER, acls.INDEXER))
    ]
    assert refused == []
