"""Secured Kafka for real: the walking skeleton over SASL_SSL, each process as its own SCRAM
user with only its grants (the broker has the authorizer), passwords written to no log, mutual
TLS required on the SSL listener.

The broker is the session's own (tests/support/secured_kafka.py: started by
``deploy/stack.sh up kafka`` with its own run directory and ports), so its certificates,
passwords, SCRAM users and ACLs come from the stack's own setup. Elasticsearch has no security
module here (tests/unit/test_client_options.py)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaTimeoutError

from ascolto import acls
from ascolto.clients import kafka_options
from ascolto.config import ROOT, Settings
from ascolto.topics import ensure_topics
from bench.ceilings import valid_contacts
from bench.worker_metrics import scrape, total
from services import demo
from services.ingest.publisher import Publisher
from services.observe import read_topic
from tests.integration import test_walking_skeleton as skeleton
from tests.support.secured_kafka import SecuredBroker, pipeline_of_principals, principal_of
from tests.support.stack import ASCOLTO, Pipeline
from tests.support.waiting import wait_until

# The walking skeleton, run again here over SASL_SSL (this module's ``pipeline``); its test of
# the metrics reads the index stage's counts from the worker, and here the indexer has them.
posted = skeleton.posted
test_every_valid_contact_is_searchable_with_its_fields = (
    skeleton.test_every_valid_contact_is_searchable_with_its_fields
)
test_invalid_contacts_are_refused_at_the_door_with_the_reason = (
    skeleton.test_invalid_contacts_are_refused_at_the_door_with_the_reason
)
test_an_invalid_batch_publishes_nothing = skeleton.test_an_invalid_batch_publishes_nothing
test_undecodable_messages_go_to_the_dead_letter_topic = (
    skeleton.test_undecodable_messages_go_to_the_dead_letter_topic
)
test_posting_the_same_batch_again_creates_no_duplicates = (
    skeleton.test_posting_the_same_batch_again_creates_no_duplicates
)

CLIENT_CERT = "CN=ascolto-client"  # the principal of the stack's client certificate


@pytest.fixture(scope="module")
def pipeline(
    base_settings: Settings, secured_broker: SecuredBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """The walking skeleton's pipeline over SASL_SSL, each process as its own principal with
    the grants of ascolto/acls.py (the CLI as the admin), the indexer as its own process."""
    with pipeline_of_principals(
        base_settings, secured_broker, tmp_path_factory.mktemp("secured")
    ) as pipe:
        yield pipe


def ascolto(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ASCOLTO, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_each_process_authenticated_and_the_indexer_indexed_everything(
    pipeline: Pipeline, posted
) -> None:
    _, result = posted
    indexer = pipeline.extra_workers[0]

    def indexed() -> float:
        return total(
            scrape(f"http://127.0.0.1:{indexer.env['ASCOLTO_INDEXER_WEB_PORT']}/metrics"),
            "ascolto_documents_indexed_total",
            index=pipeline.settings.elastic.contacts,
        )

    wait_until(lambda: indexed() >= len(set(result.accepted_ids)), 120, "the indexer")
    processes = (pipeline.ingest, pipeline.worker, indexer)
    assert [principal_of(p) for p in processes] == [acls.INGEST, acls.WORKER, acls.INDEXER]
    for proc in processes:
        assert proc.env["ASCOLTO_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert proc.popen is not None and proc.popen.poll() is None, proc.tail()


def test_the_cli_authenticates(pipeline: Pipeline) -> None:
    setup = ascolto(pipeline.env, "setup")
    assert setup.returncode == 0, setup.stderr
    assert "topics created: none (all exist)" in setup.stdout
    directory = ROOT / "ascolto" / "defaults" / "customers.example.jsonl"
    load = ascolto(pipeline.env, "customers", "load", str(directory))
    assert load.returncode == 0, load.stderr
    assert f"to {pipeline.settings.kafka.customers}" in load.stdout
    published = read_topic(pipeline.settings, pipeline.settings.kafka.customers)
    assert len(published) == int(load.stdout.split()[1]) > 0


def test_no_log_holds_a_password(secured_broker: SecuredBroker, pipeline: Pipeline) -> None:
    logs = list(pipeline.worker.log.parent.glob("*.log"))
    logs += list((secured_broker.run_dir / "logs").glob("*.log"))
    assert {p.name for p in logs} >= {"ingest.log", "worker.log", "indexer.log", "kafka.log"}
    assert all(p.stat().st_size > 0 for p in logs)
    for password in secured_broker.passwords():
        assert len(password) >= 32
        for log in logs:
            assert password not in log.read_text(errors="replace"), log


def test_mutual_tls_connects_with_a_client_certificate(secured_broker: SecuredBroker) -> None:
    env = {**secured_broker.tls_env(), "ASCOLTO_TOPIC_PREFIX": f"mtls{time.time_ns()}."}
    settings = Settings.from_env(env)
    # the certificate's principal may do anything with this test's topics, nothing else
    # (but see the cluster's size, as ensure_topics does)
    granted = [
        acls.Grant(CLIENT_CERT, "TOPIC", settings.kafka.topic_prefix, "PREFIXED", "ALL"),
        acls.Grant(CLIENT_CERT, "CLUSTER", acls.CLUSTER_NAME, "LITERAL", "DESCRIBE"),
    ]
    acls.sync(Settings.from_env(secured_broker.sasl_env()), granted, [CLIENT_CERT])
    # the admin client, the ingest publisher and a consumer, over the SSL listener (the
    # broker is the session's own: its topics go with it)
    assert settings.kafka.raw in ensure_topics(settings.kafka)
    contacts = list(valid_contacts(demo.generate(n_threads=2, seed=5), int(time.time() * 1000)))
    publisher = Publisher(settings.kafka)
    try:
        asyncio.run(publisher.publish(contacts))
    finally:
        publisher.close()
    assert len(read_topic(settings, settings.kafka.raw)) == len(contacts) > 0


def test_the_ssl_listener_refuses_a_client_without_a_certificate(
    secured_broker: SecuredBroker, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env(secured_broker.tls_env(client_certificate=False))
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**kafka_options(settings.kafka), bootstrap_timeout_ms=5000).close()
    # the broker's reason, as kafka-python logs it
    assert "SSLV3_ALERT_BAD_CERTIFICATE" in caplog.text
