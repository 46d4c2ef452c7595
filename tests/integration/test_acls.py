"""Least privilege on a real broker with the authorizer (the session's own,
tests/support/secured_kafka.py): the grants of ascolto/acls.py applied for this module's topics,
each principal refused outside them, a pipeline of principals that works with them alone, and
the nudger that nudges with its own."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAuthorizationFailedError

from ascolto import acls
from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.topics import ensure_topics
from schemas import codec
from services import demo
from services.client import post_contacts
from services.nudges import Ledger
from services.observe import read_topic, wait_searchable
from tests.integration.test_nudges import Receiver
from tests.support.secured_kafka import PRINCIPAL_OF, SecuredBroker, pipeline_of_principals
from tests.support.stack import Pipeline, isolated_names, local_proc
from tests.support.waiting import wait_until


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


def records_read(settings: Settings, topic: str) -> int:
    consumer = KafkaConsumer(**kafka_options(settings.kafka), enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.kafka.partitions)])
        consumer.seek_to_beginning()
        deadline, count = time.monotonic() + 5, 0
        while not count and time.monotonic() < deadline:
            count = sum(len(records) for records in consumer.poll(timeout_ms=1000).values())
        return count
    finally:
        consumer.close()


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


def sla_warning(subject: str, now_ms: int) -> dict[str, Any]:
    return {
        "event_id": f"{subject}:first_response:warning", "event_type": "warning",
        "target": "first_response", "conversation_id": subject, "contact_id": None,
        "policy": "default", "deadline": now_ms + 60_000, "elapsed_seconds": 60.0,
        "target_seconds": 120, "brand": "Acme", "channel": "chat", "priority": None,
        "tier": None, "occurred_at": now_ms, "judged_at": now_ms, "clock": "live",
    }  # fmt: skip


def denials_of(broker: SecuredBroker, user: str) -> list[str]:
    log = (broker.run_dir / "logs" / "kafka.log").read_text().splitlines()
    return [line for line in log if " is Denied " in line and f"User:{user} " in line]


def test_the_nudger_nudges_as_its_own_principal_and_touches_no_contact(
    secured_broker: SecuredBroker, names: dict[str, str], tmp_path: Path
) -> None:
    admin = as_user(secured_broker, names, acls.ADMIN)
    event = sla_warning("conv-acls", int(time.time() * 1000))
    producer = KafkaProducer(**kafka_options(admin.kafka))
    key, value = event["event_id"].encode(), codec().encode("SlaEvent", event)
    producer.send(admin.kafka.sla_events, key=key, value=value).get(10)
    producer.close()
    receiver = Receiver()
    (tmp_path / "acme.url").write_text(receiver.url)
    (tmp_path / "nudges.yaml").write_text("brands:\n  Acme: {webhook_url_file: acme.url}\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")},
        **names,
        **secured_broker.sasl_env(PRINCIPAL_OF["nudger"]),
        "ASCOLTO_NUDGES": str(tmp_path / "nudges.yaml"),
    }
    nudger = local_proc("nudger", "nudger", env, tmp_path)
    nudger.start()
    try:
        # it made its ledger (CREATE), read sla.events in its group, and posted the warning
        wait_until(receiver.texts, 60, lambda: f"a nudge; the nudger's log:\n{nudger.tail()}")
        wait_until(lambda: dict(Ledger(admin).read()), 30, "the ledger record")
    finally:
        nudger.stop()
    assert len(receiver.texts()) == 1 and "conv-acls" in receiver.texts()[0]
    ledger = dict(Ledger(admin).read())
    assert {k: e.status for k, e in ledger.items() if e} == {
        "conv-acls:first_response:warning": "sent"
    }
    # and no contact: refused writing contacts.raw, and reading it (it may not even see it)
    nudger_as = as_user(secured_broker, names, acls.NUDGER)
    raw = admin.kafka.raw
    with pytest.raises(TopicAuthorizationFailedError, match="contacts.raw"):
        send(nudger_as, raw, enable_idempotence=False)
    send(admin, raw)
    assert records_read(admin, raw) > 0
    assert records_read(nudger_as, raw) == 0
    # those are the only refusals it met: its own run was refused nothing
    denied = denials_of(secured_broker, acls.NUDGER)
    assert denied and all(f":{raw} " in line for line in denied), denied


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
