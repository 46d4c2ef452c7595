"""The fault suite's tools (tests/faults/): servers of its own to stop and start, a steady
load of contacts over HTTP, and the figures each fault test measures, written to
docs/reliability.md.

The shared stack runs every other test and is never stopped: the fault suite starts its own
Kafka and Elasticsearch with ``deploy/stack.sh up`` (its jars and distribution are the shared
stack's), in a run directory and on ports of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ascolto.config import ROOT, Settings
from ascolto.validation import contact_id_for
from services.client import post_batch
from services.observe import read_topic
from tests.support.stack import Pipeline, Proc, free_port
from tests.support.waiting import wait_until

STACK = str(ROOT / "deploy" / "stack.sh")
REPORT = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- fault figures: begin -->", "<!-- fault figures: end -->"
# a minute of contacts processed and indexed, as Prometheus saw it
FLOWING = (
    "sum(rate(ascolto_contacts_processed_total[1m])) > 0 and on () "
    "sum(rate(ascolto_documents_indexed_total[1m])) > 0 and on () "
    "count(count_over_time(ascolto_documents_indexed_total[1m]) >= 20) > 0"
)
PORTS = {
    "kafka": (
        "KAFKA_PORT",
        "KAFKA_CONTROLLER_PORT",
        "KAFKA_SASL_SSL_PORT",
        "KAFKA_SSL_PORT",
        "KAFKA_JMX_EXPORTER_PORT",
    ),
    "elasticsearch": ("ES_PORT", "ES_TRANSPORT_PORT"),
}


class PrivateStack:
    """Kafka and Elasticsearch of the fault suite's own, made by deploy/stack.sh."""

    def __init__(self, run_dir: Path, shared: Settings) -> None:
        self.run_dir = run_dir
        shutil.rmtree(run_dir, ignore_errors=True)
        (run_dir / "kafka").mkdir(parents=True)
        (run_dir / "kafka" / "libs").symlink_to(ROOT / shared.run_dir / "kafka" / "libs")
        # Elasticsearch's distribution, unpacked once by the shared stack; its own config,
        # data and logs beside it (stack.sh runs it as its system user, who must get here)
        (run_dir / "es" / "config").mkdir(parents=True)
        (run_dir / "es" / "dist").symlink_to(ROOT / shared.run_dir / "elasticsearch" / "dist")
        for path in (run_dir, run_dir.parent):  # Elasticsearch's system user passes through
            path.chmod(0o755)
        ports = {name: free_port() for names in PORTS.values() for name in names}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")},
            "ASCOLTO_ROOT": str(ROOT),
            "ASCOLTO_RUN_DIR": str(run_dir),
            "ASCOLTO_KAFKA_HEAP": "256m",
            "ASCOLTO_ES_HEAP": "512m",
            **{f"ASCOLTO_{name}": str(port) for name, port in ports.items()},
        }
        self.bootstrap = f"127.0.0.1:{ports['KAFKA_PORT']}"
        self.es_url = f"http://127.0.0.1:{ports['ES_PORT']}"

    def _stack(self, command: str, *components: str) -> None:
        done = subprocess.run(
            [STACK, command, *components], env=self.env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"stack.sh {command} {components}: {done.stdout}{done.stderr}")

    def up(self, *components: str) -> None:
        """Start each component, the two at once (each waits until its server answers)."""
        procs = [
            subprocess.Popen(
                [STACK, "up", c], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            for c in components
        ]
        failed = [(p.args, p.communicate()[0]) for p in procs if p.wait() != 0]
        if failed:
            raise RuntimeError(f"stack.sh up: {failed}")

    def down(self, *components: str) -> None:
        self._stack("down", *components)

    @contextmanager
    def elasticsearch_with(self, **env: str) -> Iterator[None]:
        """Elasticsearch restarted with ``env`` (e.g. static node settings) for the block,
        then restarted as it was."""
        before = dict(self.env)
        self.down("elasticsearch")
        self.env.update(env)
        try:
            self.up("elasticsearch")
            yield
        finally:
            self.down("elasticsearch")
            self.env = before
            self.up("elasticsearch")

    def pipeline_env(self) -> dict[str, str]:
        """A pipeline's settings on these servers (the ingest key stays the shared stack's)."""
        return {"ASCOLTO_KAFKA_BOOTSTRAP": self.bootstrap, "ASCOLTO_ES_URL": self.es_url}

    def log(self, component: str) -> Path:
        return self.run_dir / "logs" / f"{component}.log"

    @contextmanager
    def prometheus(self, pipe: Pipeline, scrape_s: int = 2) -> Iterator[PrivatePrometheus]:
        """A Prometheus with the stack's rules, scraping ``pipe``'s ingest and worker, for as
        long as the block runs (it has no Alertmanager: the alerts' states are read from it)."""
        port = free_port()
        env = {
            **self.env,
            "ASCOLTO_PROMETHEUS_PORT": str(port),
            "ASCOLTO_ALERTMANAGER_PORT": str(free_port()),
            "ASCOLTO_INGEST_PORT": str(pipe.settings.ingest.port),
            "ASCOLTO_WORKER_TARGETS": f"127.0.0.1:{pipe.env['ASCOLTO_WORKER_WEB_PORT']}",
            "ASCOLTO_SCRAPE_INTERVAL": f"{scrape_s}s",
        }
        done = subprocess.run([STACK, "up", "prometheus"], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"stack.sh up prometheus: {done.stdout}{done.stderr}")
        try:
            yield PrivatePrometheus(f"http://127.0.0.1:{port}")
        finally:
            subprocess.run([STACK, "down", "prometheus"], env=env, capture_output=True)
            shutil.rmtree(self.run_dir / "prometheus", ignore_errors=True)


@dataclass(frozen=True)
class PrivatePrometheus:
    url: str

    def alert_state(self, name: str) -> str:
        """``firing``, ``pending``, or ``inactive`` for an alert with no active instance."""
        with urllib.request.urlopen(f"{self.url}/api/v1/alerts", timeout=10) as resp:
            alerts = json.load(resp)["data"]["alerts"]
        states = {a["state"] for a in alerts if a["labels"]["alertname"] == name}
        return "firing" if "firing" in states else "pending" if states else "inactive"

    def wait_firing(self, name: str, timeout_s: float) -> None:
        """Until the alert fires: its expression held for the whole of its ``for:``."""
        wait_until(lambda: self.alert_state(name) == "firing", timeout_s, f"{name} to fire")

    def wait_inactive(self, name: str, timeout_s: float) -> None:
        wait_until(lambda: self.alert_state(name) == "inactive", timeout_s, f"{name} to clear")

    def query(self, expr: str) -> list[Any]:
        query = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=10) as resp:
            return list(json.load(resp)["data"]["result"])

    def wait_quiet(self, name: str, timeout_s: float) -> None:
        """Until Prometheus has seen contacts processed and indexed over a whole minute and the
        alert has no active instance: what sets it off next is the fault, not the start."""
        wait_until(lambda: self.query(FLOWING), timeout_s, "Prometheus to see contacts indexed")
        self.wait_inactive(name, timeout_s)


def contact(run: str, n: int, at_ms: int) -> dict[str, Any]:
    """The n-th contact of a load: a chat message of its own customer (no thread, no
    duplicate of another), so each is indexed exactly once."""
    return {
        "source": "faults",
        "source_id": f"{run}-{n}",
        "channel": "chat",
        "direction": "inbound",
        "brand": "acme",
        "customer_handle": f"load{n % 97}",
        "customer_email": None,
        "conversation_ref": None,
        "in_reply_to": None,
        "occurred_at": at_ms + n,
        "subject": None,
        "body": f"my order {run}-{n} never arrived",
    }


@dataclass
class SteadyLoad:
    """Posts ``batch`` new contacts every ``every_s`` seconds, on a thread, without retrying:
    what ingest acknowledged (202) and what it did not (the status, the batch kept for a
    retry) are counted."""

    url: str
    batch: int = 20
    every_s: float = 0.25
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    statuses: Counter[int | str] = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)
    refused: list[list[dict[str, Any]]] = field(default_factory=list)
    posted: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(120)

    def _loop(self) -> None:
        now_ms = int(time.time() * 1000)
        while not self._stop.is_set():
            batch = [contact(self.run, self.posted + i, now_ms) for i in range(self.batch)]
            self.posted += len(batch)
            self._post(batch, retries=0)
            self._stop.wait(self.every_s)

    def _post(self, batch: list[dict[str, Any]], retries: int) -> bool:
        status: int | str
        try:
            status, answer = post_batch(self.url, batch, partial=False, retries=retries)
        except OSError as exc:
            status, answer = type(exc).__name__, {}
        self.statuses[status] += 1
        if status == 202:
            self.acknowledged.update(answer["ids"])
            return True
        self.refused.append(batch)
        return False

    def retry_refused(self) -> int:
        """Post again what was not acknowledged, as a retrying client does; how many batches."""
        pending, self.refused = self.refused, []
        for batch in pending:
            assert self._post(batch, retries=8), f"still refused: {self.statuses}"
        return len(pending)

    def ids(self) -> set[str]:
        return {contact_id_for("faults", f"{self.run}-{n}") for n in range(self.posted)}


def index_counts(es: Elasticsearch, alias: str, ids: set[str]) -> tuple[int, int]:
    """(documents of these ids, documents in all): both equal len(ids) when each is there once."""
    es.indices.refresh(index=alias)
    total = int(es.count(index=alias)["count"])
    found = 0
    listed = sorted(ids)
    for start in range(0, len(listed), 1000):
        chunk = listed[start : start + 1000]
        found += int(es.count(index=alias, query={"ids": {"values": chunk}})["count"])
    return found, total


def dead_letters(pipe: Pipeline) -> list[dict[str, Any]]:
    return [v for _, v in read_topic(pipe.settings, pipe.settings.kafka.dlq) if v]


@dataclass
class Figures:
    """What one fault test measured, as docs/reliability.md shows it."""

    fault: str
    promise: str
    posted: int = 0
    acknowledged: int = 0
    indexed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    passed: bool = False  # set by the test once every promise held

    def table(self) -> str:
        rows = [
            ("contacts posted", self.posted),
            ("acknowledged by ingest", self.acknowledged),
            ("indexed", self.indexed),
            ("documents twice", self.duplicates),
            ("dead-lettered", self.dead_lettered),
            *self.extra.items(),
            ("test duration (s)", f"{self.seconds:.0f}"),
        ]
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        when = f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on commit {commit or '?'}."
        lines = [f"### {self.fault}", "", f"Promise: {self.promise}", "", when, ""]
        lines += ["| figure | value |", "| --- | --- |"]
        lines += [f"| {name} | {value} |" for name, value in rows]
        return "\n".join(lines)


def _blocks(section: str) -> dict[str, str]:
    """The measured blocks already in the section, by fault name."""
    found: dict[str, str] = {}
    for block in section.split("### ")[1:]:
        name = block.split("\n", 1)[0].strip()
        found[name] = "### " + block.strip()
    return found


def write_report(measured: list[Figures], order: list[str], path: Path = REPORT) -> None:
    """Replace the figures of the faults measured in this run between the markers of
    ``path``; keep those of the faults not run this time, in ``order``."""
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    section, tail = rest.split(END, 1)
    blocks = _blocks(section)
    blocks.update({f.fault: f.table() for f in measured})
    ranked = sorted(blocks, key=lambda n: order.index(n) if n in order else len(order))
    body = "\n\n".join(blocks[n] for n in ranked)
    path.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def still_running(*procs: Proc) -> None:
    """Each process is the one started first: alive, never restarted."""
    for proc in procs:
        assert proc.popen is not None and proc.popen.poll() is None, f"{proc.name}:\n{proc.tail()}"


def outage_under_load(
    pipe: Pipeline, figures: Figures, outage: Callable[[], None], timeout_s: float = 240
) -> SteadyLoad:
    """A steady load before, during and after ``outage`` (which breaks a server and mends
    it); then what ingest refused is posted again, as a retrying client does, every contact
    waited for in the index, and the figures filled in. Asserts nothing of the outcome."""
    load = SteadyLoad(pipe.ingest_url)
    load.start()
    try:
        wait_until(lambda: len(load.acknowledged) >= 200, 60, "contacts before the outage")
        outage()
        after = len(load.acknowledged)
        wait_until(lambda: len(load.acknowledged) >= after + 200, 120, "contacts after it")
    finally:
        load.stop()
    figures.extra["acknowledged at once (no retry)"] = len(load.acknowledged)
    figures.extra["requests answered 503"] = load.statuses[503]
    figures.extra["batches retried by the client"] = load.retry_refused()
    ids = load.ids()
    alias = pipe.settings.elastic.contacts
    wait_until(lambda: index_counts(pipe.es, alias, ids)[0] == len(ids), timeout_s, "every contact")
    found, total = index_counts(pipe.es, alias, ids)
    figures.posted, figures.acknowledged = len(ids), len(load.acknowledged)
    figures.indexed, figures.duplicates = found, total - found
    figures.dead_lettered = len(dead_letters(pipe))
    return load
