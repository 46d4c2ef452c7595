"""Prometheus's admin API is off unless ASCOLTO_PROMETHEUS_ADMIN_API asks for it.

The shared Prometheus is not restarted: each test starts one of its own the way the stack
starts the shared one (``deploy/stack.sh up prometheus``, its own run directory and port)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ascolto.config import ROOT
from tests.support.stack import free_port

pytestmark = pytest.mark.integration

STACK = str(ROOT / "deploy" / "stack.sh")


class OwnPrometheus:
    """A Prometheus started and stopped by deploy/stack.sh with the given admin switch."""

    def __init__(self, run_dir: Path, admin_api: str | None) -> None:
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")},
            "ASCOLTO_ROOT": str(ROOT),
            "ASCOLTO_RUN_DIR": str(run_dir),
            "ASCOLTO_PROMETHEUS_PORT": str(self.port),
        }
        if admin_api is not None:
            self.env["ASCOLTO_PROMETHEUS_ADMIN_API"] = admin_api

    def stack(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [STACK, command, "prometheus"], env=self.env, capture_output=True, text=True
        )

    def post(self, path: str) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as refused:
            return refused.code, json.load(refused)

    def flag(self, name: str) -> str:
        url = f"http://127.0.0.1:{self.port}/api/v1/status/flags"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(json.load(response)["data"][name])


@pytest.fixture
def prometheus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OwnPrometheus]:
    own = OwnPrometheus(tmp_path, request.param)
    started = own.stack("up")
    try:
        assert started.returncode == 0, started.stderr
        yield own
    finally:
        own.stack("down")


@pytest.mark.parametrize("prometheus", [None], indirect=True)
def test_the_admin_api_is_off_by_default(prometheus: OwnPrometheus) -> None:
    assert prometheus.flag("web.enable-admin-api") == "false"
    status, body = prometheus.post("/api/v1/admin/tsdb/snapshot")
    # Prometheus 2.42's answer (seen here): the routes exist, each refuses with a 500
    assert (status, body["status"], body["error"]) == (500, "error", "admin APIs disabled")
    status, body = prometheus.post("/api/v1/admin/tsdb/delete_series?match[]=up")
    assert (status, body["errorType"], body["error"]) == (500, "unavailable", "admin APIs disabled")


@pytest.mark.parametrize("prometheus", ["true"], indirect=True)
def test_the_admin_api_is_on_when_asked(prometheus: OwnPrometheus) -> None:
    assert prometheus.flag("web.enable-admin-api") == "true"
    status, body = prometheus.post("/api/v1/admin/tsdb/snapshot")
    assert (status, body["status"]) == (200, "success")


def test_a_switch_that_is_not_yes_or_no_stops_the_start(tmp_path: Path) -> None:
    own = OwnPrometheus(tmp_path, "maybe")
    done = own.stack("up")
    assert done.returncode == 1
    assert "ASCOLTO_PROMETHEUS_ADMIN_API: not a yes/no value: 'maybe'" in done.stderr
    assert not (tmp_path / "pids" / "prometheus.pid").exists()
