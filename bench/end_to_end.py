"""The end-to-end figures, on an isolated deployment (bench.harness).

With everything running, post the workload as fast as ingest takes it and time until every
contact is searchable; then post new contacts at half that rate and poll Elasticsearch for a
sample of them: received -> searchable latency. The new contacts carry on where the flood's
event time ended, as live traffic would (starting again at the flood's first day made them
weeks late: in the soak, older than the retention).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.harness import all_workers, stop_pipeline
from bench.loadgen import encode_batches
from bench.monitor import Monitor
from bench.phases import (
    BATCH,
    BATCH_CONCURRENCY,
    Options,
    Profiler,
    post,
    start_pipe,
    start_profiler,
    stop_profiler,
    unwatch,
    wait_for,
    watch,
)
from bench.probes import CountPoller, LatencyProbe
from bench.worker_metrics import (
    documents_indexed,
    gc_pauses,
    histogram_mean,
    paced_breakdown,
    scrape_workers,
)
from bench.workload import Workload
from tests.support.stack import Pipeline


def end_to_end(
    opts: Options, monitor: Monitor, after: Callable[[Pipeline], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``after`` runs once the pipeline's processes are stopped, before its topics and indices
    are deleted (the Elasticsearch ceiling re-indexes the documents the pipeline wrote)."""
    workload = Workload(opts.size, opts.seed)
    bodies = encode_batches(workload.contacts(), BATCH)
    expected = workload.summary.unique
    pipe = start_pipe(opts, worker=True)
    alias = pipe.settings.elastic.contacts
    profiler: Profiler | None = None
    try:
        watch(monitor, pipe)
        monitor.set_phase("e2e_warmup")
        warm = Workload(50, opts.seed, source="bench-warmup")
        warm_bodies = encode_batches(warm.contacts(), BATCH)
        post(pipe, warm_bodies, 1)
        warm_count = warm.summary.unique
        wait_for(
            lambda: pipe.es.count(index=alias)["count"] >= warm_count,
            120,
            "the warm-up contacts",
            pipe.worker,
        )
        counter = CountPoller(pipe.es, alias)
        counter.start()
        assert pipe.worker.popen is not None
        profiler = start_profiler(pipe.worker.popen.pid, opts.profile, "e2e_max")
        monitor.set_phase("e2e_max")
        flood = post(pipe, bodies, BATCH_CONCURRENCY)
        wait_for(
            lambda: counter.latest >= warm_count + expected,
            opts.timeout_s,
            f"{expected} contacts searchable",
            pipe.worker,
        )
        counter.stop.set()
        counter.join(5)
        searchable_at = next(t for t, n in counter.counts if n >= warm_count + expected)
        seconds = searchable_at - flood.started
        e2e_per_s = flood.accepted / seconds
        monitor.set_phase("e2e_paced")
        stop_profiler(profiler)
        profiler = start_profiler(pipe.worker.popen.pid, opts.profile, "e2e_paced")
        before_paced = scrape_workers(pipe)
        latency = _paced(
            pipe, opts, opts.paced_rate or e2e_per_s / 2, workload.summary.last_occurred_ms
        )
        latency["worker"] = paced_breakdown(before_paced, scrape_workers(pipe), latency["seconds"])
        stop_profiler(profiler)
        profiler = None
        monitor.set_phase("e2e_done")
        metrics = scrape_workers(pipe)
        unwatch(monitor, pipe)
        for proc in all_workers(pipe):
            proc.stop()
        pipe.ingest.stop()
        extra = after(pipe) if after is not None else {}
    finally:
        stop_profiler(profiler)
        unwatch(monitor, pipe)
        stop_pipeline(pipe)
    return {
        "max_rate": {
            "contacts": flood.contacts,
            "accepted": flood.accepted,
            "unique": expected,
            "ingest_s": round(flood.seconds, 3),
            "ingest_per_s": flood.per_s,
            "seconds": round(seconds, 3),
            "per_s": e2e_per_s,
            "posted": [(round(t - opts.t0, 3), n) for t, n in flood.progress],
            "searchable": [
                (round(t - opts.t0, 3), n - warm_count)
                for t, n in counter.counts
                if t >= flood.started
            ],
        },
        "paced": latency,
        "worker_latency_histogram_mean_s": histogram_mean(metrics),
        "worker_gc": gc_pauses(metrics),
        "es_docs_indexed": documents_indexed(metrics, pipe),
        **extra,
    }


def _paced(pipe: Pipeline, opts: Options, rate: float, after_ms: int) -> dict[str, Any]:
    n = int(min(max(200, rate * opts.latency_s), max(200, opts.size)))
    workload = Workload(n, opts.seed + 1, source="bench-paced", start_ms=after_ms)
    per_request = int(min(50, max(1, round(rate / 50))))  # about 50 requests a second
    bodies = encode_batches(workload.contacts(), per_request)
    every = max(1, workload.summary.valid // 3000)  # at most ~3,000 sampled contacts
    probe = LatencyProbe(pipe.es, pipe.settings.elastic.contacts)
    seen_ids: set[str] = set()
    counter = 0

    answer_s: list[float] = []  # ingest's response times: Kafka acknowledged the contacts

    def on_answer(sent: float, answered: float, answer: dict[str, Any]) -> None:
        nonlocal counter
        answer_s.append(answered - sent)
        sample = []
        for contact_id in answer["ids"]:
            counter += 1
            if contact_id not in seen_ids and counter % every == 0:
                sample.append(contact_id)
            seen_ids.add(contact_id)
        probe.add(sample)

    probe.start()
    started = time.monotonic()
    stats = post(pipe, bodies, 32, rate_per_s=rate, on_answer=on_answer)
    deadline = time.monotonic() + 120
    while probe.pending and time.monotonic() < deadline:
        time.sleep(0.1)
    probe.stop.set()
    probe.join(5)
    if probe.pending:
        raise TimeoutError(f"{probe.pending} sampled contacts never became searchable")
    latencies = sorted(lat for _, lat in probe.found)
    return {
        "seconds": round(time.monotonic() - started, 3),
        "target_per_s": rate,
        "contacts": stats.contacts,
        "per_request": per_request,
        "achieved_per_s": stats.per_s,
        "behind_schedule_max_s": round(stats.behind_s, 3),
        "ingest_answer_mean_s": round(statistics.fmean(answer_s), 4) if answer_s else None,
        "ingest_answer_max_s": round(max(answer_s), 4) if answer_s else None,
        "samples": len(latencies),
        "probe_errors": probe.errors,
        "p50_s": _quantile(latencies, 0.50),
        "p95_s": _quantile(latencies, 0.95),
        "p99_s": _quantile(latencies, 0.99),
        "max_s": latencies[-1] if latencies else None,
        "mean_s": statistics.fmean(latencies) if latencies else None,
        "series": sorted((round(seen - opts.t0, 3), round(lat, 4)) for seen, lat in probe.found),
        "posted": [(round(t - opts.t0, 3), n) for t, n in stats.progress],
    }


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile of sorted values."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, int(q * len(values) + 0.999999) - 1))]
