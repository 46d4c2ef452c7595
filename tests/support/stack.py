"""Handles on the real local stack (`make up`: Kafka, Elasticsearch, Prometheus) for the
integration tests: an isolated pipeline per test module, and its processes.

Each pipeline has its own topics (a unique prefix), its own indices, its own consumer group,
and its own ingest service and Faust worker processes on free ports. Tests therefore never
see each other's data, and can kill or restart their worker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

from ascolto.clients import kafka_options
from ascolto.config import ROOT, Settings
from ascolto.search import client, delete_indices, setup_indices
from ascolto.topics import ensure_topics, topic_specs
from services.keys import ensure_local_key
from tests.support.waiting import wait_until

ASCOLTO = str(Path(sys.executable).parent / "ascolto")
# in the /readyz of a worker or an indexer, not of the ingest service: ready means this one is
WORKER_ONLY_CHECK = b'"assignment"'


_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now and not handed out before in this process. The kernel may give the
    same ephemeral port to two binds in a row once the first socket is closed; in one CI run
    a worker's readiness check was answered at once by what was most likely its pipeline's
    ingest, on the same port."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def stack_settings() -> Settings:
    """The settings of the running stack; an error (not a skip: the tests against the stack
    are the point of the suite) when Kafka or Elasticsearch does not answer."""
    settings = Settings.from_env()
    try:
        KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap).close()
        client(settings.elastic).cluster.health(timeout="5s")
    except Exception as exc:
        down = f"the local stack is not running ({exc}); start it with `make up`"
        raise RuntimeError(down) from exc
    return settings


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args, env=self.env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def tail(self, n: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@dataclass
class Pipeline:
    """An isolated Ascolto deployment on the shared stack."""

    settings: Settings
    env: dict[str, str]
    ingest: Proc
    worker: Proc
    es: Elasticsearch
    extra_workers: list[Proc] = field(default_factory=list)

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest.port}"

    @property
    def worker_metrics_url(self) -> str:
        return metrics_url(self.worker)

    def start_worker(self) -> None:
        self.worker.start()
        wait_ready(self.worker)

    def restart_worker(self, sig: int = signal.SIGTERM) -> None:
        self.worker.stop(sig)
        self.start_worker()

    def add_worker(self, name: str, command: str = "worker") -> Proc:
        """Another process of the pipeline, not started: a stream-stage worker (``worker``) in
        the same consumer group, or an index-stage one (``indexer``), with its own web port
        and data dir, and its log beside the first worker's."""
        logs = self.worker.log.parent
        own = {
            **self.env,
            "ASCOLTO_WORKER_WEB_PORT": str(free_port()),
            "ASCOLTO_WORKER_DATA_DIR": str(logs / f"{name}-data"),
            "ASCOLTO_INDEXER_WEB_PORT": str(free_port()),
        }
        proc = Proc(name, [ASCOLTO, command], own, logs / f"{name}.log")
        self.extra_workers.append(proc)
        return proc


def metrics_url(worker: Proc, path: str = "/metrics") -> str:
    indexer = worker.args[-1] == "indexer"
    port = worker.env["ASCOLTO_INDEXER_WEB_PORT" if indexer else "ASCOLTO_WORKER_WEB_PORT"]
    return f"http://127.0.0.1:{port}{path}"


def wait_ready(worker: Proc, timeout: float = 120) -> None:
    """Until the worker or indexer says it is ready: in its group, holding its assignment,
    tables recovered, Elasticsearch reached (/readyz answers 200 only then)."""
    wait_http(metrics_url(worker, "/readyz"), WORKER_ONLY_CHECK, timeout, worker)


def wait_http(url: str, needle: bytes, timeout: float, proc: Proc) -> None:
    """Until ``url`` answers 200 with ``needle`` in its body; ``proc`` exiting meanwhile ends
    the wait at once, with its log."""

    def answers() -> bool:
        if proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited while starting:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return needle in resp.read()
        except OSError:
            return False

    wait_until(answers, timeout, lambda: f"{proc.name} to answer at {url}:\n{proc.tail()}")


def isolated_names() -> dict[str, str]:
    """Settings naming a pipeline's own topics, indices and consumer group."""
    uid = uuid.uuid4().hex[:8]
    return {
        "ASCOLTO_TOPIC_PREFIX": f"t{uid}.",
        "ASCOLTO_INDEX_PREFIX": f"t{uid}",
        "ASCOLTO_APP_ID": f"t{uid}",
    }


# (name, ascolto's command, environment, log dir) -> the process, not started
Launcher = Callable[[str, str, dict[str, str], Path], Proc]


def local_proc(name: str, command: str, env: dict[str, str], tmp: Path) -> Proc:
    """``ascolto COMMAND`` from this checkout's venv (tests.support.container: from the image)."""
    return Proc(name, [ASCOLTO, command], env, tmp / f"{name}.log")


def make_pipeline(
    base: Settings,
    tmp: Path,
    extra_env: dict[str, str] | None = None,
    launch: Launcher = local_proc,
) -> Pipeline:
    env = {
        **os.environ,
        **isolated_names(),
        "ASCOLTO_INGEST_PORT": str(free_port()),
        "ASCOLTO_WORKER_WEB_PORT": str(free_port()),
        "ASCOLTO_WORKER_DATA_DIR": str(tmp / "worker-data"),
        "ASCOLTO_BATCH_WITHIN_S": "0.1",
        **(extra_env or {}),
    }
    settings = Settings.from_env(env)
    if not settings.ingest.auth.key:  # the clients send the local key: make sure it exists
        ensure_local_key(settings)  # (a stack made before ingest took keys has none yet)
    ensure_topics(settings.kafka, settings.worker.app_id)
    setup_indices(settings.elastic)
    ingest = launch("ingest", "serve-ingest", env, tmp)
    worker = launch("worker", "worker", env, tmp)
    pipe = Pipeline(settings, env, ingest, worker, client(settings.elastic))
    ingest.start()
    wait_http(f"{pipe.ingest_url}/readyz", b"true", 60, ingest)
    pipe.start_worker()
    return pipe


def teardown_pipeline(pipe: Pipeline) -> None:
    for proc in (pipe.worker, pipe.ingest, *pipe.extra_workers):
        proc.stop()
    remove_topics_and_indices(pipe.settings, pipe.es)


def remove_topics_and_indices(settings: Settings, es: Elasticsearch) -> None:
    """What a pipeline's setup made: its indices, its topics and its app's internal topics."""
    delete_indices(settings.elastic, es)
    admin = KafkaAdminClient(**kafka_options(settings.kafka))
    try:
        app_id = settings.worker.app_id
        topics = [t for t in admin.list_topics() if t.startswith(settings.kafka.topic_prefix)]
        topics += [t for t in admin.list_topics() if t.startswith(f"{app_id}-")]
        assert set(topic_specs(settings.kafka)) <= set(topics) or not topics
        admin.delete_topics(topics)
    finally:
        admin.close()
