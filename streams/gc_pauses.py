"""Times every pass of Python's cyclic garbage collector into a histogram.

A full (generation 2) pass walks every live container object: with large in-memory state it
stops the event loop, and every stage with it, for as long as the walk takes.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

from streams.metrics import GC_GENERATIONS


class PauseTimer:
    """A ``gc.callbacks`` entry: each collection's time from its start to its stop."""

    def __init__(self, pauses: Histogram) -> None:
        self._children = {int(g): pauses.labels(g) for g in GC_GENERATIONS}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._children[info["generation"]].observe(time.perf_counter() - self._started)


def watch(pauses: Histogram) -> PauseTimer:
    """Observe every collection into ``pauses`` (labelled by generation). Installing again
    replaces the previous watch: one process, one histogram."""
    for previous in [c for c in gc.callbacks if isinstance(c, PauseTimer)]:
        gc.callbacks.remove(previous)
    timer = PauseTimer(pauses)
    gc.callbacks.append(timer)
    return timer


def tune(young_threshold: int) -> None:
    """Leave what start-up built out of every later pass, and collect the young generation
    every ``young_threshold`` new container objects.

    CPython's 700 suits programs whose objects die young or live forever. Here a batch's
    objects live for the whole batch (thousands of contacts): at 700 they survive two young
    passes, land in the old generation, and their count soon sets off a full pass over
    every parsed timeline held in memory. Frozen objects are still freed by reference
    counting; only a cycle among them would wait for ``gc.unfreeze``.
    """
    if young_threshold <= 0:
        raise ValueError(f"ASCOLTO_GC_YOUNG_THRESHOLD must be positive: {young_threshold}")
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, 10, 10)
