"""A Kafka broker with the secured listeners and the authorizer, of the tests' own.

The shared broker runs for every other test and is not restarted: this one is started the way
the stack starts the shared one (``deploy/stack.sh up kafka``, with its own run directory and
ports), so its certificates, passwords, SCRAM users and default ACLs come from the stack's own
setup. One per test session (tests/integration/conftest.py), for test_secured and test_acls.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ascolto import acls
from ascolto.config import ROOT, Settings
from tests.support.stack import (
    Pipeline,
    Proc,
    free_port,
    local_proc,
    make_pipeline,
    teardown_pipeline,
    wait_ready,
)

STACK = str(ROOT / "deploy" / "stack.sh")
# which principal each of ascolto's long-running commands connects as
PRINCIPAL_OF = {
    "serve-ingest": acls.INGEST,
    "worker": acls.WORKER,
    "indexer": acls.INDEXER,
    "nudger": acls.NUDGER,
}


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

    def sasl_env(self, user: str = acls.ADMIN) -> dict[str, str]:
        return {
            "ASCOLTO_KAFKA_BOOTSTRAP": self.sasl_ssl,
            "ASCOLTO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "ASCOLTO_KAFKA_SASL_USERNAME": user,
            "ASCOLTO_KAFKA_SASL_PASSWORD_FILE": str(self.password_file(user)),
            "ASCOLTO_KAFKA_SSL_CAFILE": str(self.tls / "ca.crt"),
        }

    def settings_as(self, user: str, names: Mapping[str, str]) -> Settings:
        """The settings of ``user`` on this broker, with a pipeline's topic names."""
        return Settings.from_env({**names, **self.sasl_env(user)})

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
        return [self.password_file(u).read_text().strip() for u in (acls.ADMIN, *acls.PRINCIPALS)]


def _stack(command: str, env: dict[str, str]) -> None:
    done = subprocess.run([STACK, command, "kafka"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"stack.sh {command} kafka: {done.stdout}{done.stderr}")


@contextmanager
def start_secured_broker(base: Settings) -> Iterator[SecuredBroker]:
    """Made and started by deploy/stack.sh (its Kafka jars are the shared stack's), stopped
    at the end; its logs (the authorizer's refusals included) stay in .run/secured-kafka/."""
    run_dir = ROOT / ".run" / "secured-kafka"
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "kafka").mkdir(parents=True)
    (run_dir / "kafka" / "libs").symlink_to(ROOT / base.run_dir / "kafka" / "libs")
    names = ("PORT", "CONTROLLER_PORT", "SASL_SSL_PORT", "SSL_PORT", "JMX_EXPORTER_PORT")
    ports = {name: free_port() for name in names}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")},
        "ASCOLTO_ROOT": str(ROOT),
        "ASCOLTO_RUN_DIR": str(run_dir),
        "ASCOLTO_KAFKA_HEAP": "256m",
        **{f"ASCOLTO_KAFKA_{name}": str(port) for name, port in ports.items()},
    }
    try:
        _stack("up", env)
        yield SecuredBroker(
            run_dir, f"127.0.0.1:{ports['SASL_SSL_PORT']}", f"127.0.0.1:{ports['SSL_PORT']}"
        )
    finally:
        _stack("down", env)


class AsPrincipals:
    """make_pipeline's launcher: each process connects as its own principal, and the first
    launch gives the principals their grants for the pipeline's topics (as the admin)."""

    def __init__(self, broker: SecuredBroker) -> None:
        self.broker = broker
        self.granted = False

    def __call__(self, name: str, command: str, env: dict[str, str], tmp: Path) -> Proc:
        if not self.granted:
            acls.apply(Settings.from_env({**env, **self.broker.sasl_env()}))
            self.granted = True
        return local_proc(
            name, command, {**env, **self.broker.sasl_env(PRINCIPAL_OF[command])}, tmp
        )


@contextmanager
def pipeline_of_principals(
    base: Settings, broker: SecuredBroker, tmp: Path, names: Mapping[str, str] | None = None
) -> Iterator[Pipeline]:
    """Ingest, worker and indexer as separate processes, each its own principal with its
    grants for the pipeline's topics (``names``, else new ones); its ``env`` is the admin's."""
    env = {**broker.sasl_env(), **(names or {}), "ASCOLTO_INDEX_INLINE": "false"}
    pipe = make_pipeline(base, tmp, env, launch=AsPrincipals(broker))
    try:
        indexer = pipe.add_worker("indexer", command="indexer")
        indexer.env.update(broker.sasl_env(PRINCIPAL_OF["indexer"]))
        indexer.start()
        wait_ready(indexer)
        yield pipe
    finally:
        teardown_pipeline(pipe)


def principal_of(proc: Proc) -> str:
    return proc.env["ASCOLTO_KAFKA_SASL_USERNAME"]
