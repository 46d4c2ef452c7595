"""/healthz, /readyz and ascolto_ready{check} of the real processes against the real stack.

Elasticsearch "going away" is a TCP forwarder in front of the shared one, closed and opened
again: the shared server keeps running for everyone else. Kafka cannot be taken away the same
way (a broker tells its clients its own address, so they leave a forwarder after bootstrap),
and a worker does not start without Kafka (it creates its topics first): the ``kafka`` check
is driven for real through ingest, started against a bootstrap that answers nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ascolto.config import Settings
from services.client import default_credential
from tests.support.stack import ASCOLTO, Pipeline, Proc, free_port, metrics_url, wait_ready
from tests.support.waiting import wait_until

WORKER_CHECKS = {"kafka", "assignment", "recovery", "elasticsearch"}


def get(url: str | urllib.request.Request) -> tuple[int, Any]:
    """Status and body (JSON when it is), a 503 included."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def wait_status(url: str, status: int, timeout: float) -> Any:
    """The body of the first answer of ``url`` with ``status``."""
    answered: list[Any] = []

    def answers() -> bool:
        got, body = get(url)
        answered[:] = [body]
        return got == status

    wait_until(answers, timeout, lambda: f"{status} from {url}, last answer {answered}")
    return answered[0]


def gauge_values(metrics_url: str) -> dict[str, float]:
    """ascolto_ready's samples on /metrics, by check."""
    _, text = get(metrics_url)
    prefix = 'ascolto_ready{check="'
    return {
        line[len(prefix) :].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(prefix)
    }


class Forwarder:
    """A local TCP port forwarding to ``target`` while open; closed, it refuses connections
    and drops the ones it carried."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self._listener: socket.socket | None = None
        self._carried: list[socket.socket] = []

    def open(self) -> None:
        self._listener = listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.2)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for conn in self._carried:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._carried.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            client.settimeout(None)
            self._carried += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)


def test_a_started_worker_becomes_ready_and_says_so_on_metrics(pipeline: Pipeline) -> None:
    url = metrics_url(pipeline.worker, "/readyz")
    body = wait_status(url, 200, 120)
    assert body == {"ready": True, "checks": dict.fromkeys(WORKER_CHECKS, True)}
    assert get(metrics_url(pipeline.worker, "/healthz")) == (200, {"ok": True})
    assert gauge_values(pipeline.worker_metrics_url) == dict.fromkeys(WORKER_CHECKS, 1.0)


def test_ingest_is_ready_on_the_real_stack(pipeline: Pipeline) -> None:
    assert get(f"{pipeline.ingest_url}/readyz") == (200, {"ready": True, "checks": {"kafka": True}})
    assert gauge_values(f"{pipeline.ingest_url}/metrics") == {"kafka": 1.0}


def test_a_worker_that_loses_elasticsearch_is_not_ready_and_names_it(pipeline: Pipeline) -> None:
    es = urllib.parse.urlsplit(pipeline.settings.elastic.url)
    forwarder = Forwarder((es.hostname or "127.0.0.1", es.port or 9200))
    forwarder.open()
    worker = pipeline.add_worker("worker-es")
    worker.env["ASCOLTO_ES_URL"] = f"http://127.0.0.1:{forwarder.port}"
    worker.env["ASCOLTO_INDEX_INLINE"] = "false"  # the first worker indexes the pipeline
    readyz = metrics_url(worker, "/readyz")
    try:
        worker.start()
        wait_ready(worker)
        forwarder.close()
        body = wait_status(readyz, 503, 30)
        assert body["checks"] == {name: name != "elasticsearch" for name in WORKER_CHECKS}
        assert list(body["failing"]) == ["elasticsearch"]
        assert gauge_values(metrics_url(worker))["elasticsearch"] == 0.0
        assert get(metrics_url(worker, "/healthz"))[0] == 200  # alive all the same
        forwarder.open()
        wait_status(readyz, 200, 30)  # ready again once Elasticsearch answers
    finally:
        worker.stop()
        forwarder.close()


def test_an_indexer_is_ready_in_its_group_and_with_elasticsearch(pipeline: Pipeline) -> None:
    indexer = pipeline.add_worker("indexer-health", "indexer")
    try:
        indexer.start()
        wait_ready(indexer, 60)
        status, body = get(metrics_url(indexer, "/readyz"))
        checks = {"kafka": True, "assignment": True, "elasticsearch": True}
        assert (status, body) == (200, {"ready": True, "checks": checks})
        assert gauge_values(metrics_url(indexer)) == dict.fromkeys(checks, 1.0)
    finally:
        indexer.stop()


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers a byte."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.mark.parametrize("kafka", ["closed port", "silent port"])
def test_ingest_is_live_but_not_ready_when_kafka_answers_nothing(
    base_settings: Settings, tmp_path: Path, kafka: str
) -> None:
    with contextlib.ExitStack() as stack:
        port = stack.enter_context(silent_port()) if kafka == "silent port" else free_port()
        env = {
            **os.environ,
            "ASCOLTO_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
            "ASCOLTO_INGEST_PORT": str(ingest_port := free_port()),
        }
        ingest = Proc("ingest-no-kafka", [ASCOLTO, "serve-ingest"], env, tmp_path / "ingest.log")
        stack.callback(ingest.stop)
        ingest.start()
        base = f"http://127.0.0.1:{ingest_port}"
        wait_until(lambda: get_or_none(f"{base}/healthz") == (200, {"ok": True}), 30, "live")
        status, body = get(f"{base}/readyz")
        assert status == 503 and body["checks"] == {"kafka": False}
        assert "Kafka" in body["failing"]["kafka"]
        assert gauge_values(f"{base}/metrics") == {"kafka": 0.0}
        status, body = get(post_contact(f"{base}/v1/contacts"))
        assert status == 503 and "retry" in body["error"]


def post_contact(url: str) -> urllib.request.Request:
    contact = {
        "source": "t", "source_id": "1", "channel": "social", "direction": "inbound",
        "brand": "acme", "customer_handle": "@jane", "occurred_at": "2025-11-23T10:00:00Z",
        "body": "hi",
    }  # fmt: skip
    data = json.dumps(contact).encode()
    headers = {"Content-Type": "application/json", **default_credential().headers()}
    return urllib.request.Request(url, data=data, headers=headers, method="POST")


def get_or_none(url: str) -> tuple[int, Any] | None:
    """As ``get``, None while nothing listens yet."""
    try:
        return get(url)
    except OSError:
        return None
