"""The pipeline's own figures, each on an isolated deployment (bench.harness):

- ``ingest_and_stage``: with the worker stopped, post the workload over HTTP (the first few
  percent one contact per request, the rest in batches): ingest's rate for each. That fills
  contacts.raw; then the worker starts and the clock runs from its first output until
  contacts.enriched stops growing with every raw contact consumed: the stream stage's rate,
  and the worker's CPU seconds per 1,000 contacts until everything is indexed.
- ``end_to_end``: with everything running, post the workload as fast as ingest takes it and
  time until every contact is searchable; then post new contacts at half that rate and poll
  Elasticsearch for a sample of them: received -> searchable latency. The new contacts carry
  on where the flood's event time ended, as live traffic would (starting again at the flood's
  first day made them weeks late: in the soak, older than the retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from prometheus_client.parser import text_string_to_metric_families

from bench.harness import (
    Offsets,
    all_workers,
    start_pipeline,
    start_workers,
    stop_pipeline,
)
from bench.loadgen import Body, Poster, PostStats, encode_batches
from bench.monitor import Monitor
from bench.profile import write_summary
from bench.workload import Workload
from streams.metrics import GC_GENERATIONS, STAGES, WAIT_STAGES
from tests.support.stack import Pipeline, metrics_url

BATCH = 500  # contacts per request in the batch phases
BATCH_CONCURRENCY = 4
SINGLE_CONCURRENCY = 16
POLL_S = 0.25
PROGRESS_S = 15.0  # how often long phases say where they are


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}]   {message}", flush=True)


def _tick(before: float, now: float) -> bool:
    """A ``PROGRESS_S`` boundary lies between two monotonic instants."""
    return int(now / PROGRESS_S) > int(before / PROGRESS_S)


Profiler = tuple[Path, "subprocess.Popen[bytes]"]


@dataclass
class Options:
    size: int
    seed: int
    tmp: Path
    t0: float = field(default_factory=time.monotonic)  # the run's clock: series are relative to it
    latency_s: float = 60.0
    paced_rate: float | None = None  # contacts/s of the latency phase; None: half the e2e rate
    profile: Path | None = None  # a folder: py-spy records the worker in the stage and e2e
    worker_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1  # worker processes in the pipeline's consumer group
    indexers: int = 0  # ``ascolto indexer`` processes; 0: the workers index (the default)

    @property
    def timeout_s(self) -> float:
        """Generous: a stage that is this slow is broken, not slow."""
        return max(300.0, self.size / 20)


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} died while waiting for {what}:\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(POLL_S)


def _start(opts: Options, *, worker: bool) -> Pipeline:
    return start_pipeline(
        opts.tmp,
        worker=worker,
        extra_env=opts.worker_env,
        workers=opts.workers,
        indexers=opts.indexers,
    )


def _post(pipe: Pipeline, bodies: list[Body], concurrency: int, **kw: Any) -> PostStats:
    async def go() -> PostStats:
        async with Poster(pipe.ingest_url, concurrency) as poster:
            if "rate_per_s" in kw:
                return await poster.paced(bodies, kw["rate_per_s"], kw.get("on_answer"))
            return await poster.flood(bodies, kw.get("on_answer"))

    return asyncio.run(go())


def _watch(monitor: Monitor, pipe: Pipeline) -> None:
    for proc in (pipe.ingest, *all_workers(pipe)):
        if proc.popen is not None and proc.popen.poll() is None:
            monitor.watch(proc.name, proc.popen.pid)


def _unwatch(monitor: Monitor, pipe: Pipeline) -> None:
    for proc in (pipe.ingest, *all_workers(pipe)):
        monitor.unwatch(proc.name)


def _workers_cpu(monitor: Monitor, pipe: Pipeline) -> float:
    return sum(monitor.cpu_seconds(proc.name) for proc in all_workers(pipe))


def _died(pipe: Pipeline) -> Any:
    return next((p for p in all_workers(pipe) if p.popen and p.popen.poll() is not None), None)


def scrape_workers(pipe: Pipeline) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every worker's samples, summed: counters and histograms add up across processes."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for proc in all_workers(pipe):
        for key, value in scrape(metrics_url(proc)).items():
            out[key] = out.get(key, 0.0) + value
    return out


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        v
        for (n, lbls), v in samples.items()
        if n == name and all(dict(lbls).get(k) == val for k, val in labels.items())
    )


# --- ingest, then the stream stage from a full topic -------------------------------------------


def ingest_and_stage(opts: Options, monitor: Monitor) -> dict[str, Any]:
    workload = Workload(opts.size, opts.seed)
    contacts = workload.contacts()
    n_single = min(max(100, opts.size // 20), 10_000, opts.size)
    singles = encode_batches(islice(contacts, n_single), 1)
    batches = encode_batches(contacts, BATCH)  # the rest of the same stream
    pipe = _start(opts, worker=False)
    k = pipe.settings.kafka
    offsets = Offsets(k.bootstrap)
    try:
        _watch(monitor, pipe)
        monitor.set_phase("ingest_single")
        single = _post(pipe, singles, SINGLE_CONCURRENCY)
        monitor.set_phase("ingest_batch")
        batch = _post(pipe, batches, BATCH_CONCURRENCY)
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
        _unwatch(monitor, pipe)
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
    _watch(monitor, pipe)
    profiler = _start_profiler(pipe.worker.popen.pid, opts.profile, "stage")
    timeline: list[tuple[float, int, float]] = []  # (t, enriched end offset, workers' CPU s)
    first_output: float | None = None
    last_empty = spawned  # the last look that found contacts.enriched empty
    cpu_before = _workers_cpu(monitor, pipe)
    threads_before = monitor.thread_cpu("worker")
    last_change = spawned
    deadline = spawned + opts.timeout_s
    try:
        while True:
            if (dead := _died(pipe)) is not None:
                raise RuntimeError(f"{dead.name} died during the stage:\n{dead.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stage did not finish in {opts.timeout_s:.0f}s")
            now, cpu = time.monotonic(), _workers_cpu(monitor, pipe)
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
            if timeline and _tick(timeline[-1][0], now):
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
        _wait(
            lambda: offsets.lag(w.index_group, [k.enriched, k.conversations, k.sla_events]) == 0,
            opts.timeout_s,
            "the index stages",
            pipe.worker,
        )
        settled = time.monotonic()
        cpu_settled = _workers_cpu(monitor, pipe)
        threads = _thread_split(threads_before, monitor.thread_cpu("worker"), pipe.worker.popen.pid)
        metrics = scrape_workers(pipe)
    finally:
        _stop_profiler(profiler)
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
        "es_docs_indexed": _indexed(metrics, pipe),
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


def _start_profiler(pid: int, folder: Path | None, name: str) -> Profiler | None:
    if folder is None:
        return None
    py_spy = Path(sys.executable).parent / "py-spy"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}.txt"
    return out, subprocess.Popen(
        [str(py_spy), "record", "--pid", str(pid), "--rate", "100", "--nonblocking",
         "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _stop_profiler(profiler: Profiler | None) -> None:
    if profiler is None:
        return
    out, proc = profiler
    proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    write_summary(out)


# --- end to end --------------------------------------------------------------------------------


class CountPoller(threading.Thread):
    """Counts the searchable documents of an index every ``POLL_S`` until told to stop,
    saying every ``PROGRESS_S`` how many there are."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        super().__init__(name="bench-count", daemon=True)
        self.es, self.index = es, index
        self.counts: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                count = self.es.count(index=self.index)["count"]
                now = time.monotonic()
                if self.counts and _tick(self.counts[-1][0], now):
                    progress(f"end to end: {count:,} contacts searchable")
                self.counts.append((now, count))
            self.stop.wait(POLL_S)

    @property
    def latest(self) -> int:
        return self.counts[-1][1] if self.counts else 0


class LatencyProbe(threading.Thread):
    """Polls Elasticsearch for sampled contact ids every ``interval_s``; a contact's latency is
    the moment it was first found minus its ``received_at`` (set by ingest, same clock)."""

    def __init__(self, es: Elasticsearch, index: str, interval_s: float = 0.075) -> None:
        super().__init__(name="bench-latency", daemon=True)
        self.es, self.index, self.interval_s = es, index, interval_s
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.found: list[tuple[float, float]] = []  # (seen at, monotonic; latency s)
        self.stop = threading.Event()
        self.errors = 0

    def add(self, ids: list[str]) -> None:
        with self._lock:
            self._pending.update(ids)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                ids = list(self._pending)[:2000]
            if ids:
                self._look(ids)
            self.stop.wait(self.interval_s)

    def _look(self, ids: list[str]) -> None:
        asked, asked_mono = time.time(), time.monotonic()
        try:
            resp = self.es.search(
                index=self.index,
                query={"ids": {"values": ids}},
                source_includes=["received_at"],
                size=len(ids),
                filter_path=["hits.hits._id", "hits.hits._source"],
            )
        except Exception:
            self.errors += 1
            return
        seen = (asked + time.time()) / 2
        seen_mono = (asked_mono + time.monotonic()) / 2
        hits = resp.get("hits", {}).get("hits", [])
        with self._lock:
            for hit in hits:
                self._pending.discard(hit["_id"])
                received = hit["_source"]["received_at"] / 1000
                self.found.append((seen_mono, max(0.0, seen - received)))


def end_to_end(
    opts: Options, monitor: Monitor, after: Callable[[Pipeline], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """``after`` runs once the pipeline's processes are stopped, before its topics and indices
    are deleted (the Elasticsearch ceiling re-indexes the documents the pipeline wrote)."""
    workload = Workload(opts.size, opts.seed)
    bodies = encode_batches(workload.contacts(), BATCH)
    expected = workload.summary.unique
    pipe = _start(opts, worker=True)
    alias = pipe.settings.elastic.contacts
    profiler: Profiler | None = None
    try:
        _watch(monitor, pipe)
        monitor.set_phase("e2e_warmup")
        warm = Workload(50, opts.seed, source="bench-warmup")
        warm_bodies = encode_batches(warm.contacts(), BATCH)
        _post(pipe, warm_bodies, 1)
        warm_count = warm.summary.unique
        _wait(
            lambda: pipe.es.count(index=alias)["count"] >= warm_count,
            120,
            "the warm-up contacts",
            pipe.worker,
        )
        counter = CountPoller(pipe.es, alias)
        counter.start()
        assert pipe.worker.popen is not None
        profiler = _start_profiler(pipe.worker.popen.pid, opts.profile, "e2e_max")
        monitor.set_phase("e2e_max")
        flood = _post(pipe, bodies, BATCH_CONCURRENCY)
        _wait(
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
        _stop_profiler(profiler)
        profiler = _start_profiler(pipe.worker.popen.pid, opts.profile, "e2e_paced")
        before_paced = scrape_workers(pipe)
        latency = _paced(
            pipe, opts, opts.paced_rate or e2e_per_s / 2, workload.summary.last_occurred_ms
        )
        latency["worker"] = paced_breakdown(before_paced, scrape_workers(pipe), latency["seconds"])
        _stop_profiler(profiler)
        profiler = None
        monitor.set_phase("e2e_done")
        metrics = scrape_workers(pipe)
        _unwatch(monitor, pipe)
        for proc in all_workers(pipe):
            proc.stop()
        pipe.ingest.stop()
        extra = after(pipe) if after is not None else {}
    finally:
        _stop_profiler(profiler)
        _unwatch(monitor, pipe)
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
        "worker_latency_histogram_mean_s": _histogram_mean(metrics),
        "worker_gc": gc_pauses(metrics),
        "es_docs_indexed": _indexed(metrics, pipe),
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
    stats = _post(pipe, bodies, 32, rate_per_s=rate, on_answer=on_answer)
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


def _indexed(metrics: dict, pipe: Pipeline) -> dict[str, float]:
    """Documents the worker wrote, per index (updates of a document count again)."""
    e = pipe.settings.elastic
    return {
        name: total(metrics, "ascolto_documents_indexed_total", index=alias)
        for name, alias in (
            ("contacts", e.contacts),
            ("conversations", e.conversations),
            ("sla_events", e.sla_events),
        )
    }


def gc_pauses(metrics: dict) -> dict[str, dict[str, float]]:
    """The workers' garbage-collector passes over their whole life, per generation: how
    many, their seconds in all, and how many stopped the event loop for over 50 ms."""
    name = "ascolto_gc_pause_seconds"
    out = {}
    for generation in GC_GENERATIONS:
        passes = total(metrics, f"{name}_count", generation=generation)
        out[generation] = {
            "passes": passes,
            "seconds": round(total(metrics, f"{name}_sum", generation=generation), 3),
            "over_50ms": passes
            - total(metrics, f"{name}_bucket", generation=generation, le="0.05"),
        }
    return out


def paced_breakdown(before: dict, after: dict, seconds: float) -> dict[str, Any]:
    """Where the worker spent the paced phase, from its metrics' growth over it: per stage,
    batches, their mean size and duration, and the share of the phase spent in them (busy);
    the mean wait from ingest to each stream stage, and to indexed (the probe adds the refresh
    to it); GC pauses; customers' timelines expired meanwhile."""

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    stages = {}
    for stage in STAGES:
        # the indexer times its batch as "index" and sizes it per topic ("index_contacts" ...)
        timed = grew("ascolto_stage_duration_seconds_count", stage=stage)
        sized = grew("ascolto_batch_size_count", stage=stage)
        if not (timed or sized):
            continue
        busy_s = grew("ascolto_stage_duration_seconds_sum", stage=stage)
        stages[stage] = {
            "batches": timed or sized,
            "mean_size": (
                round(grew("ascolto_batch_size_sum", stage=stage) / sized, 1) if sized else None
            ),
            "mean_ms": round(1000 * busy_s / timed, 2) if timed else None,
            "over_100ms": (
                timed - grew("ascolto_stage_duration_seconds_bucket", stage=stage, le="0.1")
                if timed
                else None
            ),
            "busy": round(busy_s / seconds, 3),
        }
    waited = {}
    for stage in WAIT_STAGES:
        taken = grew("ascolto_stage_wait_seconds_count", stage=stage)
        if taken:
            waited[stage] = round(grew("ascolto_stage_wait_seconds_sum", stage=stage) / taken, 3)
    indexed = grew("ascolto_end_to_end_latency_seconds_count")
    gc_name = "ascolto_gc_pause_seconds"
    return {
        "stages": stages,
        "waited_mean_s": waited,  # from ingest to the start of the stage's batch
        "indexed_latency_mean_s": (
            round(grew("ascolto_end_to_end_latency_seconds_sum") / indexed, 3) if indexed else None
        ),
        "gc_busy": round(grew(f"{gc_name}_sum") / seconds, 4),
        "gc_over_50ms": grew(f"{gc_name}_count") - grew(f"{gc_name}_bucket", le="0.05"),
        "timelines_expired": grew("ascolto_customer_timelines_expired_total"),
    }


def _histogram_mean(metrics: dict) -> float | None:
    count = total(metrics, "ascolto_end_to_end_latency_seconds_count")
    return total(metrics, "ascolto_end_to_end_latency_seconds_sum") / count if count else None
