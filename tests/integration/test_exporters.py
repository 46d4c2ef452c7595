"""The exporters that watch Kafka and Elasticsearch themselves: `ascolto lag-exporter` against
the shared Kafka, on a topic and group of the test's own; and the shared stack's Prometheus
scraping every exporter `make up` started (jobs kafka, elasticsearch, kafka-lag)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from ascolto.config import ROOT, Settings
from bench.worker_metrics import scrape
from observability.infra_selectors import JOBS, reads_exporters
from observability.queries import all_queries
from tests.support.stack import free_port
from tests.support.waiting import wait_until


@pytest.fixture
def lagging_group(base_settings: Settings) -> Iterator[tuple[str, str]]:
    """A topic with 5 messages on partition 0 and 2 on partition 1, and a group that has
    committed offset 2 on partition 0 and 0 on partition 1."""
    bootstrap = base_settings.kafka.bootstrap
    topic, group = f"lagtest-{uuid.uuid4().hex[:8]}", f"lagtest-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagtest")
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for partition, count in ((0, 5), (1, 2)):
        for n in range(count):
            producer.send(topic, f"m{n}".encode(), partition=partition)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    consumer.commit(
        {
            TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1),
            TopicPartition(topic, 1): OffsetAndMetadata(0, "", -1),
        }
    )
    consumer.close()
    try:
        yield topic, group
    finally:
        admin.delete_groups([group])
        admin.delete_topics([topic])
        admin.close()


def test_lag_exporter_reports_each_partition_and_the_sum(
    base_settings: Settings, lagging_group: tuple[str, str]
) -> None:
    topic, group = lagging_group
    port = free_port()
    env = {**os.environ, "ASCOLTO_KAFKA_BOOTSTRAP": base_settings.kafka.bootstrap}
    args = ["--port", str(port), "--group-filter", group]
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "lag-exporter", *args], env=env, cwd=ROOT
    )
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        samples = wait_until(lambda: _scraped(url), 30, "the lag exporter to answer")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ours = {k: v for k, v in samples.items() if ("consumergroup", group) in k[1]}
    g, t = ("consumergroup", group), ("topic", topic)
    assert ours == {
        ("kafka_consumergroup_lag", (g, ("partition", "0"), t)): 3.0,
        ("kafka_consumergroup_lag", (g, ("partition", "1"), t)): 2.0,
        ("kafka_consumergroup_lag_sum", (g, t)): 5.0,
    }
    assert not any(("consumergroup", "ascolto") in k[1] for k in samples)  # the filter


def _scraped(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    try:
        return scrape(url)
    except OSError:
        return None


def test_the_stack_prometheus_scrapes_every_exporter(base_settings: Settings) -> None:
    """After `make up`: the JMX agent in Kafka, the Elasticsearch exporter and the lag
    exporter are targets of the shared Prometheus, and up."""

    def health() -> dict[str, float]:
        found = prometheus_query(base_settings, "up")
        return {r["metric"]["job"]: float(r["value"][1]) for r in found}

    jobs = {job.name for job in JOBS}
    wait_until(
        lambda: {j: v for j, v in health().items() if j in jobs} == dict.fromkeys(jobs, 1.0),
        30,
        lambda: f"every exporter up, got {health()}",
    )


def test_every_exporter_panel_has_data_on_the_stack(base_settings: Settings) -> None:
    """The dashboard's "Kafka and Elasticsearch" row, as the stack's Prometheus answers it."""
    queries = [(title, expr) for _, title, expr in all_queries() if reads_exporters(expr)]
    assert len(queries) >= 10

    def empty() -> list[str]:
        return [title for title, expr in queries if not prometheus_query(base_settings, expr)]

    wait_until(lambda: not empty(), 30, lambda: f"data for the panels {empty()}")


def prometheus_query(settings: Settings, expr: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    url = f"{settings.prometheus_url}/api/v1/query?{query}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return list(json.load(resp)["data"]["result"])
