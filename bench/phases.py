"""What the bench's measured phases share (bench.ingest_stage, bench.end_to_end): their
options, the pipeline they start, posting the workload, watching and profiling the processes.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import all_workers, start_pipeline
from bench.loadgen import Body, Poster, PostStats
from bench.monitor import Monitor
from bench.profile import write_summary
from tests.support.stack import Pipeline

BATCH = 500  # contacts per request in the batch phases
BATCH_CONCURRENCY = 4
SINGLE_CONCURRENCY = 16
POLL_S = 0.25
PROGRESS_S = 15.0  # how often long phases say where they are


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}]   {message}", flush=True)


def tick(before: float, now: float) -> bool:
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


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if proc is not None and proc.popen is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} died while waiting for {what}:\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(POLL_S)


def start_pipe(opts: Options, *, worker: bool) -> Pipeline:
    return start_pipeline(
        opts.tmp,
        worker=worker,
        extra_env=opts.worker_env,
        workers=opts.workers,
        indexers=opts.indexers,
    )


def post(pipe: Pipeline, bodies: list[Body], concurrency: int, **kw: Any) -> PostStats:
    async def go() -> PostStats:
        async with Poster(pipe.ingest_url, concurrency) as poster:
            if "rate_per_s" in kw:
                return await poster.paced(bodies, kw["rate_per_s"], kw.get("on_answer"))
            return await poster.flood(bodies, kw.get("on_answer"))

    return asyncio.run(go())


def watch(monitor: Monitor, pipe: Pipeline) -> None:
    for proc in (pipe.ingest, *all_workers(pipe)):
        if proc.popen is not None and proc.popen.poll() is None:
            monitor.watch(proc.name, proc.popen.pid)


def unwatch(monitor: Monitor, pipe: Pipeline) -> None:
    for proc in (pipe.ingest, *all_workers(pipe)):
        monitor.unwatch(proc.name)


def workers_cpu(monitor: Monitor, pipe: Pipeline) -> float:
    return sum(monitor.cpu_seconds(proc.name) for proc in all_workers(pipe))


def died(pipe: Pipeline) -> Any:
    return next((p for p in all_workers(pipe) if p.popen and p.popen.poll() is not None), None)


def start_profiler(pid: int, folder: Path | None, name: str) -> Profiler | None:
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


def stop_profiler(profiler: Profiler | None) -> None:
    if profiler is None:
        return
    out, proc = profiler
    proc.send_signal(signal.SIGINT)  # py-spy writes its output and exits
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    write_summary(out)
