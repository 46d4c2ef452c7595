"""Batches that must not be lost: retried until written, finished when the process is asked
to stop in the middle of their writes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger("ascolto.worker")


class _Counter(Protocol):
    def inc(self) -> None: ...


def backoff_s(attempt: int) -> float:
    """Pause before retry ``attempt`` (1, 2, ...): 1 s, 2 s, 4 s ... at most 30 s."""
    return min(30.0, 0.5 * 2**attempt)


async def until_done(work: Callable[[], Awaitable[None]], what: str, retries: _Counter) -> None:
    """Await ``work()`` again and again until it succeeds; only cancellation gets out.

    A batch's failure must never leave the loop that took it: faust would acknowledge the batch
    on the way out, and the indexer would move on to the next one. Retrying is safe, every
    write downstream is idempotent.
    """
    attempt = 0
    while True:
        try:
            await work()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            attempt += 1
            log.exception("%s failed, retry %d", what, attempt)
            retries.inc()
            await asyncio.sleep(backoff_s(attempt))


async def finish_even_if_cancelled(work: Awaitable[None], timeout_s: float = 30) -> None:
    """Run ``work`` to completion (for at most ``timeout_s``) even if cancelled meanwhile.

    faust acknowledges an agent's batch when its loop body exits, also when it exits by
    cancellation at shutdown; the indexer commits right after its writes. Finishing the
    writes first keeps "acknowledged" meaning "written", and spares a restart the redo.
    """
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task}, timeout=timeout_s)
        raise
