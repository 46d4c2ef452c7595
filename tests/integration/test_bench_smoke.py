"""`make bench` at a tiny size: it runs end to end on the real stack and writes every figure.

No performance thresholds: the figures of a 2,000-contact run on a shared machine say nothing;
this checks that the benchmark works and that its results file is complete and sane.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import cast

import pytest

from ascolto.config import ROOT, Settings
from bench.report import REQUIRED_KEYS, TARGETS

RATES = (
    "es_bulk_ceiling_per_s",
    "kafka_produce_ceiling_per_s",
    "kafka_consume_produce_ceiling_per_s",
    "ingest_per_s",
    "ingest_single_per_s",
    "stage_per_s",
    "e2e_per_s",
    "cpu_s_per_1k",
    "e2e_vs_es_ceiling",
    "stage_vs_kafka_ceiling",
    "rss_growth_ratio",
    "rss_growth_second_half_ratio",
)


@pytest.fixture(scope="module")
def results(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--size", "2000", "--latency-seconds", "10",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    assert "End to end" in run.stdout  # the table was printed
    png = out / "latest.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    return json.loads((out / "latest.json").read_text())


def test_every_figure_is_there_and_sane(results: dict) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in results]
    assert not missing, missing
    for key in RATES:
        assert isinstance(results[key], int | float) and results[key] > 0, (key, results[key])
    p50, p95, p99 = (results[f"latency_{q}_s"] for q in ("p50", "p95", "p99"))
    assert 0 < p50 <= p95 <= p99 < 120
    assert results["latency_at_per_s"] > 0
    assert set(results["targets"]) == set(TARGETS)


def test_the_workload_is_the_one_asked_for(results: dict) -> None:
    w = results["workload"]
    assert results["size"] == w["size"] == 2000
    assert w["valid"] + w["malformed"] == w["size"]
    assert w["unique"] + w["duplicates"] == w["valid"]
    assert w["malformed"] > 0 and w["duplicates"] > 0 and w["near_duplicates"] >= 0
    assert set(w["channels"]) == {"social", "email", "chat", "web_form", "phone"}
    details = results["details"]
    assert (
        details["ingest_batch"]["refused"] + details["ingest_single"]["refused"] == (w["malformed"])
    )
    assert details["stage"]["contacts"] == w["valid"]


def test_garbage_collector_passes_are_reported(results: dict) -> None:
    details = results["details"]
    for gc in (details["stage"]["worker_gc"], details["worker_gc_e2e"]):
        assert set(gc) == {"0", "1", "2"}
        # the worker's start-up collection (streams.gc_pauses.tune) at least
        assert gc["2"]["passes"] >= 1 and gc["2"]["seconds"] > 0
        assert all(0 <= g["over_50ms"] <= g["passes"] for g in gc.values())


def test_versions_and_machine_are_recorded(results: dict) -> None:
    v = results["versions"]
    for key in ("python", "faust", "kafka", "elasticsearch"):
        assert v[key], key
    m = results["machine"]
    assert m["nproc"] >= 1 and m["memory_gib"] > 0
    assert "busy" in m["load_during_run"]
    assert results["timestamp"].startswith("20")


def test_nothing_is_left_behind_on_the_shared_stack(results: dict, base_settings) -> None:
    from kafka import KafkaAdminClient

    from ascolto.search import client

    admin = KafkaAdminClient(bootstrap_servers=base_settings.kafka.bootstrap)
    try:
        topics = admin.list_topics()
    finally:
        admin.close()
    es = client(base_settings.elastic)
    indices = cast(list[dict], es.cat.indices(index="bench*", format="json").body)
    # other benchmarks may run meanwhile: only this run's names must be gone
    run_names = results["details"]["names"]
    assert not [t for t in topics if t.startswith(tuple(run_names))]
    assert not [i["index"] for i in indices if i["index"].startswith(tuple(run_names))]
