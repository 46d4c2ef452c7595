"""Observability proven against a real Prometheus: it scrapes a real pipeline, every Grafana
panel's query returns data, key panels agree with `ascolto report`, and a stopped worker
pages (WorkerDown, PipelineStalled) and resolves after recovery."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from ascolto.config import Settings
from observability import RULES_DIR
from observability.infra_selectors import reads_exporters
from observability.queries import all_queries
from observability.selectors import (
    BRAND_INBOUND_BASELINE,
    DEDUPLICATED,
    INBOUND,
    INGEST,
    PROCESSED,
    RESPONSE_TARGETS,
    WORKER,
    reads_nudger,
    sel,
    sla_events,
)
from services import demo
from services.client import post_contacts
from services.demo_run import broken_producer_messages
from services.observe import wait_settled
from services.report import customer_messages, summarise
from tests.support.stack import Pipeline, free_port, make_pipeline, teardown_pipeline
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

SHORT_POLICY = """
version: 1
rules:
  - name: test-default
    targets: {first_response: 5s, next_response: 5s, resolution: 1h}
"""
CONFIG = """
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ["{rules}/*.yml"]
scrape_configs:
  - job_name: {ingest_job}
    static_configs: [{{targets: ["127.0.0.1:{ingest}"]}}]
  - job_name: {worker_job}
    static_configs: [{{targets: ["127.0.0.1:{worker}"]}}]
"""


class Prometheus:
    def __init__(self, pipe: Pipeline, tmp: Path) -> None:
        rules = tmp / "rules"
        shutil.copytree(RULES_DIR, rules)
        config = tmp / "prometheus.yml"
        config.write_text(
            CONFIG.format(
                rules=rules,
                ingest_job=INGEST.name,
                ingest=pipe.settings.ingest.port,
                worker_job=WORKER.name,
                worker=pipe.settings.worker.web_port,
            )
        )
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = (tmp / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address={self.url.removeprefix('http://')}"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._ready, 60, "Prometheus")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2):
                return True
        except OSError:
            return False

    def get(self, path: str, **params: str) -> dict:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = orjson.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]

    def query_range(self, expr: str, start: float, end: float, step_s: int = 5) -> list[dict]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s}s"}
        return self.get("/api/v1/query_range", **params)["result"]

    def value(self, expr: str) -> float:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    def alert_states(self) -> dict[str, str]:
        return {a["labels"]["alertname"]: a["state"] for a in self.get("/api/v1/alerts")["alerts"]}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


@pytest.fixture(scope="module")
def observed(
    base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Pipeline, Prometheus]]:
    tmp = tmp_path_factory.mktemp("observability")
    policy = tmp / "policy.yaml"
    policy.write_text(SHORT_POLICY)
    pipe = make_pipeline(base_settings, tmp, {"ASCOLTO_SLA_POLICIES": str(policy)})
    prom = Prometheus(pipe, tmp)
    try:
        yield pipe, prom
    finally:
        prom.stop()
        teardown_pipeline(pipe)


def live_workload(pipe: Pipeline) -> None:
    """Live traffic in real time, so no clock is ever corrected: questions on every channel
    now; answers in time (2 s), late (7 s, targets are 5 s) or never; a near-duplicate; an
    exact redelivery; and a broken producer's messages for the dead-letter topic."""
    brands = ("acme", "globex")
    questions = [
        demo._contact(brands[i % 2], channel, "inbound", f"obs{i}", None, f"q{i}",
                      int(time.time() * 1000), f"my order {7000 + i} never arrived, I am furious",
                      None, f"s{i}")
        for i, channel in enumerate(demo.CHANNELS * 3)
    ]  # fmt: skip
    repost = dict(questions[0], source_id="q0-repost", conversation_ref=None, channel="social")
    post_contacts(pipe.ingest_url, questions)
    time.sleep(2)  # later mentions on series Prometheus has already seen: a visible increase
    post_contacts(pipe.ingest_url, [repost, questions[1]])

    def answers(which: range) -> list[dict]:
        return [
            demo._contact(q["brand"], q["channel"], "outbound", q["customer_handle"], None,
                          f"a{i}", int(time.time() * 1000), "Sorry! We are on it.",
                          q["source_id"], q["conversation_ref"])
            for i, q in enumerate(questions) if i in which
        ]  # fmt: skip

    time.sleep(2)
    post_contacts(pipe.ingest_url, answers(range(0, 7)))
    time.sleep(5)
    post_contacts(pipe.ingest_url, answers(range(7, 11)))
    producer = KafkaProducer(bootstrap_servers=pipe.settings.kafka.bootstrap)
    for payload in broken_producer_messages():
        producer.send(pipe.settings.kafka.raw, key=b"broken", value=payload)
    producer.flush()
    producer.close()


# The usual level of mentions is the same hour on previous days (so a fresh system cannot page
# for a spike): it has data only after a day of history. Evaluated, but not expected to have data.
NEEDS_A_DAY_OF_HISTORY = (BRAND_INBOUND_BASELINE,)


def panels_without_data(prom: Prometheus, queries: list[tuple[str, str, str]], start: float):
    """The panels whose query has no data from `start` to now, as a panel shows it."""
    end = time.time()
    return [
        f"{uid}: {title}: {expr}"
        for uid, title, expr in queries
        if not any(h in expr for h in NEEDS_A_DAY_OF_HISTORY)
        and not prom.query_range(expr, start, end)
    ]


def test_every_panel_query_returns_data(observed) -> None:
    pipe, prom = observed
    # one contact per brand and channel first: series start at zero, so increases show
    warmup = [
        demo._contact(brand, channel, "outbound", "warmup", None, f"w-{brand}-{channel}",
                      int(time.time() * 1000), "Hello! How can we help?", None, None)
        for brand in ("acme", "globex") for channel in demo.CHANNELS
    ]  # fmt: skip
    post_contacts(pipe.ingest_url, warmup)
    wait_settled(pipe.settings)
    wait_until(
        lambda: prom.value(f"sum({PROCESSED})") >= len(warmup), 30, "Prometheus to scrape them"
    )
    live_workload(pipe)
    posted = time.time()
    wait_settled(pipe.settings)
    # the exporters' panels: tests/integration/test_exporters.py, on the stack's Prometheus;
    # the nudger's have data only where a nudger runs, which this pipeline has none of
    queries = [q for q in all_queries() if not reads_exporters(q[2]) and not reads_nudger(q[2])]
    assert len(queries) >= 20
    # As a panel shows it: over the time range of the workload, from its first posts to now
    # (on a busy machine the results can come well after the posts, and a 1m window
    # evaluated at one instant can miss one or the other). Unanswered messages' deadlines
    # (5 s) pass, the timer judges them, Prometheus scrapes (1 s) and evaluates its rules.
    start = posted - 15
    wait_until(
        lambda: not panels_without_data(prom, queries, start),
        120,
        lambda: "panels with data:\n" + "\n".join(panels_without_data(prom, queries, start)),
    )
    for expr in NEEDS_A_DAY_OF_HISTORY:
        prom.query_range(expr, start, time.time())  # no error, even without history


def report_rows(pipe: Pipeline) -> dict[str, dict]:
    pipe.es.indices.refresh(index=pipe.settings.elastic.contacts)
    return summarise(customer_messages(pipe.es, pipe.settings.elastic.contacts), "channel")


def report_judged(pipe: Pipeline) -> tuple[float, float]:
    """(breached, met) response targets, as `ascolto report` counts them."""
    rows = report_rows(pipe).values()
    return sum(r["sla_breached"] for r in rows), sum(r["sla_met"] for r in rows)


def prometheus_judged(prom: Prometheus) -> tuple[float, float]:
    """(breached, met) response targets, as the SLA panels count them."""
    return (
        prom.value(f"sum({sla_events('breached', RESPONSE_TARGETS)})"),
        prom.value(f"sum({sla_events('met', RESPONSE_TARGETS)})"),
    )


def test_breach_panel_agrees_with_the_report(observed) -> None:
    pipe, prom = observed
    wait_settled(pipe.settings)
    wait_until(
        lambda: prometheus_judged(prom) == report_judged(pipe),
        30,
        lambda: (
            f"Prometheus {prometheus_judged(prom)} to agree with the report "
            f"{report_judged(pipe)} (breached, met)"
        ),
    )
    breached, met = report_judged(pipe)
    assert breached > 0 and met > 0
    messages = sum(r["messages"] for r in report_rows(pipe).values())
    # mentions count deliveries; the report counts messages (an exact redelivery once)
    inbound = prom.value(f"sum({INBOUND})")
    exact = sel(DEDUPLICATED, 'kind="exact"')
    redelivered = prom.value(f"sum({exact})")
    assert inbound - redelivered == messages


def test_a_stopped_worker_pages_and_recovers(observed) -> None:
    pipe, prom = observed
    stop = threading.Event()

    def keep_posting() -> None:
        i = 0
        while not stop.is_set():
            at = int(time.time() * 1000)
            text = "is anyone there? order 55 missing"
            c = demo._contact(
                "acme", "chat", "inbound", f"p{i}", None, f"p-{i}", at, text, None, None
            )
            post_contacts(pipe.ingest_url, [c])
            i += 1
            time.sleep(0.5)

    poster = threading.Thread(target=keep_posting, daemon=True)
    poster.start()
    try:
        pipe.worker.stop(signal.SIGKILL)
        wait_until(lambda: prom.alert_states().get("WorkerDown") == "firing", 150, "WorkerDown")
        wait_until(lambda: prom.alert_states().get("PipelineStalled") in ("pending", "firing"), 90,
                   "PipelineStalled")  # fmt: skip
        pipe.start_worker()
        wait_until(lambda: "WorkerDown" not in prom.alert_states(), 60, "WorkerDown to resolve")
        wait_until(lambda: "PipelineStalled" not in prom.alert_states(), 120,
                   "PipelineStalled to resolve")  # fmt: skip
    finally:
        stop.set()
        poster.join(10)


def test_promtool_check_metrics_passes_on_every_endpoint(observed) -> None:
    pipe, _ = observed
    for url in (f"{pipe.ingest_url}/metrics", pipe.worker_metrics_url):
        with urllib.request.urlopen(url, timeout=5) as resp:
            exposition = resp.read()
        assert b"ascolto_" in exposition
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=exposition, capture_output=True, timeout=30
        )
        assert check.returncode == 0, (url, check.stdout.decode(), check.stderr.decode())
