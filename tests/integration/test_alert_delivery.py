"""A firing alert reaches the people it is routed to: Prometheus evaluates Ascolto's own alert
rules, Alertmanager (started by deploy/stack.sh, its configuration generated from a routing
file) routes them, and a webhook receiver the test runs gets them, authenticated with the
bearer token read from a secret file.

Both servers are the test's own, on free ports: the shared stack's are never touched. The
rules are the real WorkerDown and UnansweredPastHardLimit from observability/alerts.py, with
`for: 0s` so that a run takes seconds rather than their minutes (the `for`s are promtool's to
test). WorkerDown fires because the worker target is a port nothing listens on; the
unanswered contacts are on a /metrics page the receiver also serves, as a worker would.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from ascolto.config import ROOT, Settings
from observability.alerts import AVAILABILITY, UNANSWERED_PAST_HARD_LIMIT
from observability.rules import Group, RuleFile, runbook_url
from observability.selectors import PAST_HARD_LIMIT
from tests.support.stack import free_port
from tests.support.tools import tool
from tests.support.waiting import wait_until

STACK = str(ROOT / "deploy" / "stack.sh")
RUNBOOK = Settings.from_env({}).observability.runbook_base_url
TOKEN = "test-bearer-token-7f3a"
WORKER_DOWN = "WorkerDown"


class WebhookSink:
    """An HTTP server that keeps every notification POSTed to it (path, Authorization header,
    Alertmanager's JSON) and serves ``metrics`` on GET /metrics."""

    def __init__(self, metrics: str) -> None:
        self.received: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with sink.lock:
                    sink.received.append((self.path, self.headers["Authorization"], body))
                self.send_response(200)
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(metrics.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def firing(self, path: str) -> list[tuple[str, dict[str, Any]]]:
        """(Authorization, notification) of each firing notification sent to ``path``."""
        with self.lock:
            return [
                (auth, body)
                for p, auth, body in self.received
                if p == path and body["status"] == "firing"
            ]

    def paths(self) -> set[str]:
        with self.lock:
            return {p for p, _, _ in self.received}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def routing(sink: WebhookSink) -> dict[str, Any]:
    def hook(path: str) -> list[dict[str, Any]]:
        return [{"webhook": {"url": f"{sink.url}{path}", "bearer_token_file": "hooks.token"}}]

    teams = {
        team: {"page": hook(f"/{team}/page"), "ticket": hook(f"/{team}/ticket")}
        for team in ("platform", "support", "retail")
    }
    return {
        "oncall": hook("/oncall"),
        "teams": teams,
        "default_team": "platform",
        "brands": {"acme": "retail"},
        "timing": {"group_wait": "1s", "page_group_wait": "1s", "group_interval": "1s"},
    }


def rule_file() -> str:
    worker_down = next(rule for rule in AVAILABILITY.rules if rule.name == WORKER_DOWN)
    alerts = [replace(worker_down, for_="0s"), replace(UNANSWERED_PAST_HARD_LIMIT, for_="0s")]
    return RuleFile("delivery.yml", "", [Group("delivery", alerts)]).render(RUNBOOK)


@pytest.fixture(scope="module")
def sink() -> Iterator[WebhookSink]:
    metrics = f'{PAST_HARD_LIMIT}{{brand="acme",channel="email"}} 3\n'
    webhook = WebhookSink(metrics)
    try:
        yield webhook
    finally:
        webhook.close()


@pytest.fixture(scope="module")
def alertmanager(sink: WebhookSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """An Alertmanager of the test's own, started by deploy/stack.sh from a routing file."""
    tmp = tmp_path_factory.mktemp("alert-delivery")
    (tmp / "secrets").mkdir()
    (tmp / "secrets" / "hooks.token").write_text(TOKEN + "\n")
    (tmp / "routing.yaml").write_text(yaml.safe_dump(routing(sink), sort_keys=False))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")},
        "ASCOLTO_ROOT": str(ROOT),
        "ASCOLTO_RUN_DIR": str(tmp / "run"),
        "ASCOLTO_ALERTMANAGER_PORT": str(port),
        "ASCOLTO_ALERT_ROUTING": str(tmp / "routing.yaml"),
        "ASCOLTO_ALERT_SECRETS_DIR": str(tmp / "secrets"),
    }
    try:
        up = subprocess.run([STACK, "up", "alertmanager"], env=env, capture_output=True, text=True)
        assert up.returncode == 0, up.stdout + up.stderr
        config = (tmp / "run" / "alertmanager" / "alertmanager.yml").read_text()
        assert TOKEN not in config and str(tmp / "secrets" / "hooks.token") in config
        yield port
    finally:
        subprocess.run([STACK, "down", "alertmanager"], env=env, capture_output=True)


@pytest.fixture(scope="module")
def prometheus(
    sink: WebhookSink, alertmanager: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A Prometheus of the test's own: the two rules, evaluated every second."""
    tmp = tmp_path_factory.mktemp("prometheus")
    (tmp / "delivery.yml").write_text(rule_file())
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "delivery.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "ascolto-worker",
                "static_configs": [{"targets": [f"127.0.0.1:{free_port()}"]}],
            },
            {
                "job_name": "customers",
                "static_configs": [{"targets": [sink.url.removeprefix("http://")]}],
            },
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    prometheus = tool("prometheus")
    with open(tmp / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{free_port()}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait_for(sink: WebhookSink, path: str, alertname: str) -> tuple[str, dict[str, Any]]:
    def arrived() -> tuple[str, dict[str, Any]] | None:
        return next(
            (
                (auth, note)
                for auth, note in sink.firing(path)
                if any(a["labels"]["alertname"] == alertname for a in note["alerts"])
            ),
            None,
        )

    return wait_until(
        arrived, 60, lambda: f"{alertname} at {path}; received at {sorted(sink.paths())}"
    )


@pytest.mark.usefixtures("prometheus")
def test_a_page_reaches_on_call_and_its_team_with_its_labels_and_runbook(sink: WebhookSink) -> None:
    for path, receiver in (("/oncall", "oncall"), ("/platform/page", "platform-page")):
        auth, note = wait_for(sink, path, WORKER_DOWN)
        assert auth == f"Bearer {TOKEN}"
        assert note["receiver"] == receiver
        alert = next(a for a in note["alerts"] if a["labels"]["alertname"] == WORKER_DOWN)
        assert alert["status"] == "firing"
        assert alert["labels"]["severity"] == "page"
        assert alert["labels"]["team"] == "platform"
        assert alert["labels"]["job"] == "ascolto-worker"
        assert alert["annotations"]["runbook_url"] == runbook_url(RUNBOOK, WORKER_DOWN)
        assert alert["annotations"]["summary"].startswith("Ascolto worker")


@pytest.mark.usefixtures("prometheus")
def test_a_brands_page_reaches_the_team_that_owns_the_brand(sink: WebhookSink) -> None:
    name = UNANSWERED_PAST_HARD_LIMIT.name
    auth, note = wait_for(sink, "/retail/page", name)
    assert note["receiver"] == "retail-page"
    alert = next(a for a in note["alerts"] if a["labels"]["alertname"] == name)
    assert (
        alert["labels"] | {"brand": "acme", "channel": "email", "severity": "page"}
        == alert["labels"]
    )
    assert alert["annotations"]["runbook_url"] == f"{RUNBOOK}#unansweredpasthardlimit"
    wait_for(sink, "/oncall", name)
    # routed by its brand, not by its rule's team label (support)
    assert sink.firing("/support/page") == []
