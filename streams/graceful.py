"""Finishing a batch's writes when the process is asked to stop in the middle of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


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
