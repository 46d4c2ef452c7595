"""Waiting in tests: poll a condition rather than sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str | Callable[[], str],
    interval: float = 0.5,
) -> T:
    """Call ``condition`` every ``interval`` seconds until it returns something true, and
    return that; after ``timeout`` seconds, raise TimeoutError naming ``what`` it waited for
    (a callable is asked only then, e.g. for the tail of a log)."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            told = what() if callable(what) else what
            raise TimeoutError(f"waited {timeout:g}s for {told}")
        time.sleep(interval)
    return result
