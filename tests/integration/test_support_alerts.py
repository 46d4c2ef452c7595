"""SlaPolicyRefused on a real worker and a real Prometheus: the worker's own
``ascolto_sla_policy_refused_total`` and ``ascolto_sla_policy_since_seconds``, reloaded every
half second, scraped every second by a Prometheus of the test's own that evaluates the real
rule (observability/support_alerts.py) with `for: 0s` and 1 s steps instead of 1 min, so that
a run takes seconds (the `for`, the steps and the 6 h window are promtool's to test:
deploy/prometheus/tests/support-tools.test.yml).

A valid file: quiet. An invalid one: it fires. The worker restarted with the invalid file
still there (its refusal counted before its first scrape): it still fires. Fixed: it clears.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ascolto.config import Settings
from observability.rules import Group, RuleFile
from observability.selectors import SLA_POLICY_REFUSED, SLA_POLICY_SINCE
from observability.support_alerts import SLA_POLICY_REFUSED_ALERT, refused_after_newest_version
from tests.support.stack import Proc, free_port, make_pipeline, teardown_pipeline
from tests.support.tools import tool
from tests.support.waiting import wait_until

NAME = SLA_POLICY_REFUSED_ALERT.name
VALID = """
version: 1
rules:
  - name: default
    targets: {first_response: 1h, next_response: 1h, resolution: 72h}
"""
INVALID = VALID.replace("first_response: 1h", "first_response: soon")
FIXED = VALID.replace("first_response: 1h", "first_response: 30m")


class OwnPrometheus:
    """A Prometheus scraping one worker, evaluating one rule, every second."""

    def __init__(self, worker: str, tmp: Path) -> None:
        expr = refused_after_newest_version(step="1s", step_s=1)
        rule = replace(SLA_POLICY_REFUSED_ALERT, expr=expr, for_="0s")
        (tmp / "rules.yml").write_text(RuleFile("t.yml", "", [Group("t", [rule])]).render(""))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yml")],
            "scrape_configs": [
                {"job_name": "ascolto-worker", "static_configs": [{"targets": [worker]}]}
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        args = [
            tool("prometheus"),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address={self.url.removeprefix('http://')}",
        ]
        self.proc = Proc("prometheus", args, dict(os.environ), tmp / "prometheus.log")
        self.proc.start()

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as resp:
            return dict(json.load(resp)["data"])

    def latest(self, metric: str) -> tuple[float, float] | None:
        """(sample time, value) of the worker's series, if Prometheus has it."""
        found = self.get(f"/api/v1/query?query={metric}")["result"]
        return (float(found[0]["value"][0]), float(found[0]["value"][1])) if found else None

    def sampled(self, metric: str) -> tuple[float, float] | None:
        query = urllib.parse.quote(f"timestamp({metric})")
        when = self.get(f"/api/v1/query?query={query}")["result"]
        value = self.latest(metric)
        return (float(when[0]["value"][1]), value[1]) if when and value else None

    def values(self) -> str:
        """The two series and the alerts, as Prometheus has them: a failure's message."""
        found = {m: self.latest(m) for m in (SLA_POLICY_REFUSED, SLA_POLICY_SINCE)}
        return f"{NAME} to change state: {found}, alerts: {self.get('/api/v1/alerts')['alerts']}"

    def state(self) -> str:
        alerts = [
            a for a in self.get("/api/v1/alerts")["alerts"] if a["labels"]["alertname"] == NAME
        ]
        return alerts[0]["state"] if alerts else "inactive"

    def stop(self) -> None:
        self.proc.stop()


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    (tmp_path / "policy.yaml").write_text(VALID)
    return tmp_path / "policy.yaml"


def test_a_refused_policy_fires_until_a_fixed_one_takes_effect(
    base_settings: Settings, policy_file: Path, tmp_path: Path
) -> None:
    reload = {"ASCOLTO_SLA_POLICIES": str(policy_file), "ASCOLTO_SLA_POLICY_RELOAD_S": "0.5"}
    with ExitStack() as cleanup:
        pipe = make_pipeline(base_settings, tmp_path, reload)
        cleanup.callback(teardown_pipeline, pipe)
        (tmp_path / "prometheus").mkdir()
        worker = f"127.0.0.1:{pipe.env['ASCOLTO_WORKER_WEB_PORT']}"
        prometheus = OwnPrometheus(worker, tmp_path / "prometheus")
        cleanup.callback(prometheus.stop)

        wait_until(lambda: _ready(prometheus), 30, "Prometheus to scrape the worker's policy")
        for _ in range(3):  # a few evaluations on the valid file: quiet
            assert prometheus.state() == "inactive"
            time.sleep(1)
        policy_file.write_text(INVALID)
        wait_until(lambda: prometheus.state() == "firing", 30, prometheus.values)

        pipe.restart_worker()  # reads the invalid file at start: keeps the recorded version
        ready_at = time.time()

        def new_process_scraped() -> bool:
            sample = prometheus.sampled(SLA_POLICY_REFUSED)
            return sample is not None and sample[0] > ready_at + 2

        wait_until(new_process_scraped, 30, "Prometheus to scrape the restarted worker")
        sample = prometheus.sampled(SLA_POLICY_REFUSED)
        assert sample is not None and sample[1] == 1  # its refusal, counted at its start
        assert prometheus.state() == "firing"

        policy_file.write_text(FIXED)
        wait_until(lambda: prometheus.state() == "inactive", 30, prometheus.values)


def _ready(prometheus: OwnPrometheus) -> bool:
    try:
        return prometheus.latest(SLA_POLICY_SINCE) is not None
    except OSError:
        return False
