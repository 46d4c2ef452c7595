"""Secured Kafka for real: the walking skeleton over SASL_SSL with SCRAM users, passwords
written to no log, mutual TLS required on the SSL listener.

The shared broker runs for every other test and is not restarted: this module starts a broker
of its own the way the stack starts the shared one (``deploy/stack.sh up kafka``, with its own
run directory and ports), so its certificates, passwords and SCRAM users come from the stack's
own setup. Elasticsearch has no security module here (tests/unit/test_client_options.py)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaTimeoutError

from ascolto.clients import kafka_options
from ascolto.config import ROOT, Settings
from ascolto.topics import ensure_topics
from bench.ceilings import valid_contacts
from bench.worker_metrics import scrape, total
from services import demo
from services.ingest.publisher import Publisher
from services.observe import read_topic
from tests.integration import test_walking_skeleton as skeleton
from tests.support.stack import (
    ASCOLTO,
    Pipeline,
    Proc,
    free_port,
    local_proc,
    make_pipeline,
    teardown_pipeline,
    wait_ready,
)
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

STACK = str(ROOT / "deploy" / "stack.sh")
INGEST_USER = "ascolto-ingest"


@dataclass(frozen=True)
class SecuredBroker:
    run_dir: Path
    sasl_ssl: str  # bootstrap of each listener
    ssl: str

    @property
    def tls(self) -> Path:
        return self.run_dir / "kafka" / "tls"

    def password_file(self, user: str) -> Path:
        return self.run_dir / "secrets" / f"kafka-{user}.password"

    def sasl_env(self, user: str = "ascolto", password_file: Path | None = None) -> dict[str, str]:
        return {
            "ASCOLTO_KAFKA_BOOTSTRAP": self.sasl_ssl,
            "ASCOLTO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ASCOLTO_KAFKA_SASL_USERNAME": user,
            "ASCOLTO_KAFKA_SASL_PASSWORD_FILE": str(password_file or self.password_file(user)),
            "ASCOLTO_KAFKA_SSL_CAFILE": str(self.tls / "ca.crt"),
        }

    def tls_env(self, client_certificate: bool = True) -> dict[str, str]:
        env = {
            "ASCOLTO_KAFKA_BOOTSTRAP": self.ssl,
            "ASCOLTO_KAFKA_SECURITY_PROTOCOL": "SSL",
            "ASCOLTO_KAFKA_SSL_CAFILE": str(self.tls / "ca.crt"),
        }
        if client_certificate:
            env["ASCOLTO_KAFKA_SSL_CERTFILE"] = str(self.tls / "client.crt")
            env["ASCOLTO_KAFKA_SSL_KEYFILE"] = str(self.tls / "client.key")
        return env

    def passwords(self) -> list[str]:
        return [self.password_file(u).read_text().strip() for u in ("ascolto", INGEST_USER)]


def stack(command: str, env: dict[str, str]) -> None:
    done = subprocess.run([STACK, command, "kafka"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"stack.sh {command} kafka: {done.stdout}{done.stderr}")


@pytest.fixture(scope="module")
def broker(base_settings: Settings) -> Iterator[SecuredBroker]:
    """A broker of this module's own, made and started by deploy/stack.sh (its Kafka jars
    are the shared stack's), stopped at the end; its logs stay in .run/secured-kafka/."""
    run_dir = ROOT / ".run" / "secured-kafka"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "kafka").mkdir(parents=True)
    (run_dir / "kafka" / "libs").symlink_to(ROOT / base_settings.run_dir / "kafka" / "libs")
    ports = {name: free_port() for name in ("PORT", "CONTROLLER_PORT", "SASL_SSL_PORT", "SSL_PORT")}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")},
        "ASCOLTO_ROOT": str(ROOT),
        "ASCOLTO_RUN_DIR": str(run_dir),
        "ASCOLTO_KAFKA_HEAP": "256m",
        **{f"ASCOLTO_KAFKA_{name}": str(port) for name, port in ports.items()},
    }
    try:
        stack("up", env)
        yield SecuredBroker(
            run_dir, f"127.0.0.1:{ports['SASL_SSL_PORT']}", f"127.0.0.1:{ports['SSL_PORT']}"
        )
    finally:
        stack("down", env)


def ingest_as_its_own_user(broker: SecuredBroker):  # type: ignore[no-untyped-def]
    """make_pipeline's launcher: ingest authenticates as ascolto-ingest, the rest as ascolto."""

    def launch(name: str, command: str, env: dict[str, str], tmp: Path) -> Proc:
        if command == "serve-ingest":
            env = {**env, **broker.sasl_env(INGEST_USER)}
        return local_proc(name, command, env, tmp)

    return launch


@pytest.fixture(scope="module")
def pipeline(
    base_settings: Settings, broker: SecuredBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """The walking skeleton's pipeline over SASL_SSL, with the indexer as its own process."""
    tmp = tmp_path_factory.mktemp("secured")
    env = {**broker.sasl_env(), "ASCOLTO_INDEX_INLINE": "false"}
    pipe = make_pipeline(base_settings, tmp, env, launch=ingest_as_its_own_user(broker))
    try:
        indexer = pipe.add_worker("indexer", command="indexer")
        indexer.start()
        wait_ready(indexer)
        yield pipe
    finally:
        teardown_pipeline(pipe)


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
    assert pipeline.ingest.env["ASCOLTO_KAFKA_SASL_USERNAME"] == INGEST_USER
    for proc in (pipeline.worker, indexer):
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


def test_no_log_holds_a_password(broker: SecuredBroker, pipeline: Pipeline) -> None:
    logs = list(pipeline.worker.log.parent.glob("*.log"))
    logs += list((broker.run_dir / "logs").glob("*.log"))
    assert {p.name for p in logs} >= {"ingest.log", "worker.log", "indexer.log", "kafka.log"}
    assert all(p.stat().st_size > 0 for p in logs)
    for password in broker.passwords():
        assert len(password) >= 32
        for log in logs:
            assert password not in log.read_text(errors="replace"), log


def test_mutual_tls_connects_with_a_client_certificate(broker: SecuredBroker) -> None:
    env = {**broker.tls_env(), "ASCOLTO_TOPIC_PREFIX": f"mtls{time.time_ns()}."}
    settings = Settings.from_env(env)
    # the admin client, the ingest publisher and a consumer, over the SSL listener (the
    # broker is this module's: its topics go with it)
    assert settings.kafka.raw in ensure_topics(settings.kafka)
    contacts = list(valid_contacts(demo.generate(n_threads=2, seed=5), int(time.time() * 1000)))
    publisher = Publisher(settings.kafka)
    try:
        asyncio.run(publisher.publish(contacts))
    finally:
        publisher.close()
    assert len(read_topic(settings, settings.kafka.raw)) == len(contacts) > 0


def test_the_ssl_listener_refuses_a_client_without_a_certificate(
    broker: SecuredBroker, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env(broker.tls_env(client_certificate=False))
    with pytest.raises(KafkaTimeoutError, match="Unable to bootstrap"):
        KafkaAdminClient(**kafka_options(settings.kafka), bootstrap_timeout_ms=5000).close()
    # the broker's reason, as kafka-python logs it
    assert "SSLV3_ALERT_BAD_CERTIFICATE" in caplog.text
