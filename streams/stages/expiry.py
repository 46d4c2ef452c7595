"""The expiry timer: whole timelines of customers silent for the retention period dropped."""

from __future__ import annotations

import asyncio
import time

from streams.stages.thread import ThreadStage

EXPIRE_CHUNK = 500  # timelines expired under one hold of the lock


class Expiry:
    def __init__(self, stage: ThreadStage, idle_s: float) -> None:
        self.stage = stage
        self.idle_s = idle_s  # untouched this long on the wall clock before being dropped

    async def tick(self) -> None:
        """Drop whole timelines of customers silent for the retention period, by event time.
        Eviction inside a step only runs when a customer writes again; this bounds the state
        of those who never do. A contact later than the retention starts afresh."""
        if self.stage.settling() or self.stage.wake_index.stale:
            return
        await self.stage.guarded(self.expire)

    async def expire(self) -> None:
        stage = self.stage
        now = stage.watermark.now()
        idle_before = time.monotonic() - self.idle_s
        later: list[bytes] = []
        while not stage.settling():
            # in chunks, letting the thread agent in between: new customers arrive at
            # hundreds a second, and all of them must be able to leave as fast
            async with stage.stepping:
                due = stage.expiry.pop_due(now, limit=EXPIRE_CHUNK)
                for key in due:
                    # a clock still runs (judge it first), or the customer was stepped
                    # lately (an archive's contacts may still be on their way): next tick
                    if key in stage.wake_index or stage.touched.get(key, 0.0) > idle_before:
                        later.append(key)
                        continue
                    await stage.drop(key)
                    stage.touched.pop(key, None)
                    stage.gauges.forget(key)
                    stage.metrics.timelines_expired.inc()
            if len(due) < EXPIRE_CHUNK:
                break
            await asyncio.sleep(0)
        for key in later:
            if key in stage.table and key not in stage.expiry:  # not stepped meanwhile
                stage.expiry.set(key, now)
