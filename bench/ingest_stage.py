"""The ingest and stream-stage figures, on an isolated deployment (bench.harness).

With the worker stopped, post the workload over HTTP (the first few percent one contact per
request, the rest in batches): ingest's rate for each. That fills contacts.raw; then the worker
starts and the clock runs from its first output until contacts.enriched stops growing with
every raw contact consumed: the stream stage's rate, and the worker's CPU seconds per 1,000
contacts until everything is indexed.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Any

from bench.harness import Offsets, start_workers, stop_pipeline
from bench.loadgen import PostStats, encode_batches
from bench.monitor import Monitor
from bench.phases import (
    BATCH,
    BATCH_CONCURRENCY,
    POLL_S,
    SINGLE_CONCURRENCY,
    Options,
    died,
    post,
    progress,
    start_pipe,
    start_profiler,
    stop_profiler,
    tick,
    unwatch,
    wait_for,
    watch,
    workers_cpu,
)
from bench.worker_metrics import documents_indexed, gc_pauses, scrape_workers
from bench.workload import Workload
from tests.support.stack import Pipeline


def ingest_and_stage(opts: Options, monitor: Monitor) -> dict[str, Any]:
    workload = Workload(opts.size, opts.seed)
    contacts = workload.contacts()
    n_single = min(max(100, opts.size // 20), 10_000, opts.size)
    singles = encode_batches(islice(contacts, n_single), 1)
    batches = encode_batches(contacts, BATCH)  # the rest of the same stream
    pipe = start_pipe(opts, worker=False)
    k = pipe.settings.kafka
    offsets = Offsets(k)
    try:
        watch(monitor, pipe)
        monitor.set_phase("ingest_single")
        single = post(pipe, singles, SINGLE_CONCURRENCY)
        monitor.set_phase("ingest_batch")
        batch = post(pipe, batches, BATCH_CONCURRENCY)
        raw_total = offsets.end([k.raw])[k.raw]
        accepted = single.accepted + batch.accepted
        if raw_total != accepted or accepted != workload.summary.valid:
            raise RuntimeError(
                f"contacts.raw holds {raw_total}, ingest accepted {accepted}, "
                f"the workload has {workload.summary.valid} valid contacts"
            )
        monitor.set_phase("stage")
        stage = _run_stage(pipe, offsets, raw_total, opts, monitor)
        monitor.set_phase("stage_done")
    finally:
        unwatch(monitor, pipe)
        offsets.close()
        stop_pipeline(pipe)
    return {
        "workload": workload.summary.as_dict(),
        "ingest_single": _post_summary(single),
        "ingest_batch": _post_summary(batch) | {"batch_size": BATCH},
        "stage": stage,
    }


def _post_summary(stats: PostStats) -> dict[str, Any]:
    return {
        "contacts": stats.contacts,
        "accepted": stats.accepted,
        "refused": stats.refused,
        "requests": stats.requests,
        "retries": stats.retries,
        "seconds": round(stats.seconds, 3),
        "per_s": stats.per_s,
    }


def _run_stage(
    pipe: Pipeline, offsets: Offsets, raw_total: int, opts: Options, monitor: Monitor
) -> dict[str, Any]:
    k, w = pipe.settings.kafka, pipe.settings.worker
    spawned = time.monotonic()
    start_workers(pipe)
    assert pipe.worker.popen is not None
    watch(monitor, pipe)
    profiler = start_profiler(pipe.worker.popen.pid, opts.profile, "stage")
    timeline: list[tuple[float, int, float]] = []  # (t, enriched end offset, workers' CPU s)
    first_output: float | None = None
    last_empty = spawned  # the last look that found contacts.enriched empty
    cpu_before = workers_cpu(monitor, pipe)
    threads_before = monitor.thread_cpu("worker")
    last_change = spawned
    deadline = spawned + opts.timeout_s
    try:
        while True:
            if (dead := died(pipe)) is not None:
                raise RuntimeError(f"{dead.name} died during the stage:\n{dead.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stage did not finish in {opts.timeout_s:.0f}s")
            now, cpu = time.monotonic(), workers_cpu(monitor, pipe)
            enriched = offsets.end([k.enriched])[k.enriched]
            if enriched and first_output is None:
                # the outputs began after the last look that saw none: a small stage can
                # write all of them between two looks, and then `now` would leave it no time
                first_output = last_empty
            elif not enriched:
                last_empty = now
                cpu_before = cpu
                threads_before = monitor.thread_cpu("worker")
            if timeline and enriched != timeline[-1][1]:
                last_change = now
            if timeline and tick(timeline[-1][0], now):
                progress(f"stage: {enriched:,} records on contacts.enriched")
            timeline.append((now, enriched, cpu))
            if enriched and now - last_change >= 1.5:
                done = offsets.committed(w.app_id, [k.raw, k.keyed])
                ends = offsets.end([k.raw, k.keyed])
                if done == ends and ends[k.raw] == raw_total:
                    break
            time.sleep(POLL_S)
        assert first_output is not None
        finished = last_change
        # the index stage, until every output is in Elasticsearch
        wait_for(
            lambda: offsets.lag(w.index_group, [k.enriched, k.conversations, k.sla_events]) == 0,
            opts.timeout_s,
            "the index stages",
            pipe.worker,
        )
        settled = time.monotonic()
        cpu_settled = workers_cpu(monitor, pipe)
        threads = _thread_split(threads_before, monitor.thread_cpu("worker"), pipe.worker.popen.pid)
        metrics = scrape_workers(pipe)
    finally:
        stop_profiler(profiler)
    seconds = finished - first_output
    return {
        "contacts": raw_total,
        "enriched_records": timeline[-1][1],
        "startup_s": round(first_output - spawned, 3),
        "seconds": round(seconds, 3),
        "per_s": raw_total / seconds if seconds > 0 else 0.0,
        "index_settled_s": round(settled - first_output, 3),
        "worker_cpu_s": round(cpu_settled - cpu_before, 3),
        "cpu_s_per_1k": (cpu_settled - cpu_before) / raw_total * 1000,
        "worker_thread_cpu_s": threads,
        "worker_gc": gc_pauses(metrics),
        "es_docs_indexed": documents_indexed(metrics, pipe),
        "timeline": [(round(t - opts.t0, 3), n, round(c, 3)) for t, n, c in timeline],
    }


def _thread_split(before: dict[int, float], after: dict[int, float], pid: int) -> dict[str, float]:
    """CPU seconds between two looks: the main thread (the event loop: agents, producer),
    the busiest other thread (faust's consumer thread), and the rest (lingua's pool ...)."""
    used = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    main = used.pop(pid, 0.0)
    others = sorted(used.values(), reverse=True)
    return {
        "main": round(main, 3),
        "busiest_other": round(others[0], 3) if others else 0.0,
        "rest": round(sum(others[1:]), 3),
        "threads": len(after),
    }
