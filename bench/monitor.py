"""Resident memory and CPU of the benchmark's processes, and how busy the rest of the machine is.

A background thread samples every ``interval_s``: RSS and CPU seconds of each watched process
(ingest, worker, the load generator itself), and every few samples the CPU every *other*
process used — the shared stack (Kafka, Elasticsearch, Prometheus) apart from strangers
(other engineers' tests), so a report can say whether the machine was busy.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ascolto.config import ROOT

STACK_NAMES = ("kafka", "elasticsearch", "prometheus", "alertmanager")


@dataclass
class Sample:
    t: float  # time.monotonic()
    phase: str
    rss: dict[str, int]  # process label -> bytes
    cpu: dict[str, float]  # process label -> user + system seconds so far


@dataclass
class Load:
    t: float
    phase: str
    stack_cores: float  # CPU cores the shared stack used since the previous look
    other_cores: float  # ... and every process that is neither ours nor the stack's


@dataclass
class Monitor:
    interval_s: float = 0.5
    load_every: int = 4
    t0: float = field(default_factory=time.monotonic)  # the run's clock
    samples: list[Sample] = field(default_factory=list)
    loads: list[Load] = field(default_factory=list)
    phases: list[dict[str, object]] = field(default_factory=list)  # name, start, end (s from t0)
    phase: str = "setup"

    def __post_init__(self) -> None:
        self._watched: dict[str, psutil.Process] = {"loadgen": psutil.Process()}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-monitor", daemon=True)
        self._last_cpu: dict[int, float] = {}
        self._last_load_t = 0.0

    # --- control ------------------------------------------------------------------------------

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        if self.phases and self.phases[-1]["end"] is None:
            self.phases[-1]["end"] = round(time.monotonic() - self.t0, 3)

    def watch(self, label: str, pid: int) -> None:
        with self._lock:
            self._watched[label] = psutil.Process(pid)

    def unwatch(self, label: str) -> None:
        with self._lock:
            self._watched.pop(label, None)

    def set_phase(self, phase: str) -> None:
        now = round(time.monotonic() - self.t0, 3)
        if self.phases:
            self.phases[-1]["end"] = now
        self.phases.append({"name": phase, "start": now, "end": None})
        self.phase = phase

    def cpu_seconds(self, label: str) -> float:
        with self._lock:
            proc = self._watched[label]
        times = proc.cpu_times()
        return times.user + times.system

    def thread_cpu(self, label: str) -> dict[int, float]:
        """CPU seconds so far per OS thread of a watched process (thread id -> seconds)."""
        with self._lock:
            proc = self._watched[label]
        return {t.id: t.user_time + t.system_time for t in proc.threads()}

    # --- sampling -----------------------------------------------------------------------------

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(0 if n == 0 else self.interval_s):
            self._sample()
            if n % self.load_every == 0:
                self._look_at_load()
            n += 1

    def _sample(self) -> None:
        rss: dict[str, int] = {}
        cpu: dict[str, float] = {}
        with self._lock:
            watched = dict(self._watched)
        for label, proc in watched.items():
            with contextlib.suppress(psutil.Error), proc.oneshot():
                rss[label] = proc.memory_info().rss
                times = proc.cpu_times()
                cpu[label] = times.user + times.system
        self.samples.append(Sample(time.monotonic(), self.phase, rss, cpu))

    def _look_at_load(self) -> None:
        now = time.monotonic()
        ours = {p.pid for p in self._watched.values()}
        stack = _stack_pids()
        totals = {"stack": 0.0, "other": 0.0}
        seen: dict[int, float] = {}
        for proc in psutil.process_iter(["pid", "cpu_times"]):
            times = proc.info["cpu_times"]
            if times is None:
                continue
            used = times.user + times.system
            seen[proc.pid] = used
            if proc.pid in ours or proc.pid not in self._last_cpu:
                continue
            delta = max(0.0, used - self._last_cpu[proc.pid])
            totals["stack" if proc.pid in stack else "other"] += delta
        if self._last_load_t:
            span = now - self._last_load_t
            self.loads.append(Load(now, self.phase, totals["stack"] / span, totals["other"] / span))
        self._last_cpu = seen
        self._last_load_t = now


def run_dir() -> Path:
    """The stack's state folder (gitignored): pid files, and the bench's raw outputs."""
    return Path(os.environ.get("ASCOLTO_RUN_DIR", str(ROOT / ".run")))


def _stack_pids() -> set[int]:
    """The shared stack's processes and their children (from deploy/stack.sh's pid files)."""
    pids: set[int] = set()
    for name in STACK_NAMES:
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            root = psutil.Process(int((run_dir() / "pids" / f"{name}.pid").read_text().strip()))
            pids.add(root.pid)
            pids.update(c.pid for c in root.children(recursive=True))
    return pids


def growth_ratio(values: list[float], since: float = 0.0) -> float | None:
    """Mean of the last tenth over the mean of the tenth that starts at ``since`` (a fraction:
    0 is the first tenth, 0.5 the middle one); None with too few values."""
    if len(values) < 10:
        return None
    tenth = len(values) // 10
    start = int(len(values) * since)
    base = sum(values[start : start + tenth]) / tenth
    last = sum(values[-tenth:]) / tenth
    return last / base if base else None


def machine() -> dict[str, object]:
    mem = psutil.virtual_memory()
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem.total / 2**30, 1),
        "memory_available_gib_at_start": round(mem.available / 2**30, 1),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
