"""A broker killed, and KafkaBrokerDown fires: a Kafka broker of the test's own, started by
deploy/stack.sh with the JMX exporter agent, and a Prometheus of its own that scrapes the agent
every second with the generated rules (deploy/prometheus/rules/ascolto-infrastructure.yml).

About a minute and a half: the broker's start, then the alert's `for: 1m` after the kill.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ascolto.config import ROOT, Settings
from tests.support.faults import STACK, PrivatePrometheus
from tests.support.stack import free_port
from tests.support.tools import tool
from tests.support.waiting import wait_until

RULES = ROOT / "deploy" / "prometheus" / "rules" / "ascolto-infrastructure.yml"
KAFKA_PORTS = ("PORT", "CONTROLLER_PORT", "SASL_SSL_PORT", "SSL_PORT", "JMX_EXPORTER_PORT")


@dataclass(frozen=True)
class Broker:
    run_dir: Path
    jmx_target: str

    def kill(self) -> None:
        """SIGKILL, no shutdown: the broker's JVM and its agent vanish at once."""
        pid = int((self.run_dir / "pids" / "kafka.pid").read_text())
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def broker(base_settings: Settings) -> Iterator[Broker]:
    run_dir = ROOT / ".run" / f"jmx-kafka-{uuid.uuid4().hex[:8]}"
    (run_dir / "kafka").mkdir(parents=True)
    (run_dir / "kafka" / "libs").symlink_to(ROOT / base_settings.run_dir / "kafka" / "libs")
    ports = {name: free_port() for name in KAFKA_PORTS}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ASCOLTO_")},
        "ASCOLTO_ROOT": str(ROOT),
        "ASCOLTO_RUN_DIR": str(run_dir),
        "ASCOLTO_KAFKA_HEAP": "256m",
        **{f"ASCOLTO_KAFKA_{name}": str(port) for name, port in ports.items()},
    }
    try:
        done = subprocess.run([STACK, "up", "kafka"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        yield Broker(run_dir, f"127.0.0.1:{ports['JMX_EXPORTER_PORT']}")
    finally:
        subprocess.run([STACK, "down", "kafka"], env=env, capture_output=True)
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def prometheus(broker: Broker, tmp_path: Path) -> Iterator[PrivatePrometheus]:
    """Scraping the broker's agent every second, evaluating the rules every second."""
    (tmp_path / "rules").mkdir()
    shutil.copy(RULES, tmp_path / "rules" / RULES.name)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f'rule_files: ["{tmp_path}/rules/*.yml"]\n'
        "scrape_configs:\n"
        f"  - {{job_name: kafka, static_configs: [{{targets: ['{broker.jmx_target}']}}]}}\n"
    )
    port = free_port()
    with (tmp_path / "prometheus.log").open("w") as log:
        proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(f"{url}/-/ready"), 30, "Prometheus to start")
        yield PrivatePrometheus(url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def value(prom: PrivatePrometheus, expr: str) -> float | None:
    found = prom.query(expr)
    return float(found[0]["value"][1]) if found else None


def test_a_killed_broker_fires_kafka_broker_down(
    broker: Broker, prometheus: PrivatePrometheus
) -> None:
    wait_until(lambda: prometheus.query('up{job="kafka"} == 1'), 60, "the agent scraped")
    # the agent's rules (deploy/kafka/jmx-exporter.yml) export what the alerts read
    wait_until(
        lambda: value(prometheus, "kafka_controller_kafkacontroller_activecontrollercount") == 1,
        30,
        "the broker's controller metrics",
    )
    assert value(prometheus, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert value(prometheus, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0
    heap = value(prometheus, 'jvm_memory_max_bytes{area="heap"}')
    assert heap is not None and 200e6 < heap <= 256 * 2**20  # ASCOLTO_KAFKA_HEAP=256m
    prometheus.wait_inactive("KafkaBrokerDown", 30)

    broker.kill()
    wait_until(lambda: prometheus.alert_state("KafkaBrokerDown") == "pending", 15, "pending")
    prometheus.wait_firing("KafkaBrokerDown", 90)  # for: 1m
    [fired] = [
        a
        for a in prometheus_alerts(prometheus)
        if a["labels"]["alertname"] == "KafkaBrokerDown" and a["state"] == "firing"
    ]
    assert fired["labels"]["instance"] == broker.jmx_target
    assert fired["labels"]["severity"] == "page"


def prometheus_alerts(prom: PrivatePrometheus) -> list[dict[str, dict[str, str]]]:
    with urllib.request.urlopen(f"{prom.url}/api/v1/alerts", timeout=10) as resp:
        return list(json.load(resp)["data"]["alerts"])
