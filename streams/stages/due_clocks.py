"""The due-clock timer: warnings and breaches happen when nothing arrives, so customers whose
SLA clocks changed since their last step are stepped again with no new contact."""

from __future__ import annotations

import time
from typing import Any

from streams.stages.thread import ThreadStage

# The due-clock timer re-judges at most SLA_KEYS_PER_TICK customers a tick (the others stay
# due for the next one), SLA_KEYS_PER_HOLD of them under one hold of the lock the thread agent
# steps under: a tick of ~450 customers took ~250 ms, and the thread agent's contacts waited
# for all of it (bench/HISTORY.md).
SLA_KEYS_PER_TICK = 1000
SLA_KEYS_PER_HOLD = 100


class DueClocks:
    def __init__(self, stage: ThreadStage) -> None:
        self.stage = stage

    async def tick(self) -> None:
        """Re-judge customers whose SLA clocks changed since: warnings and breaches happen
        when nothing arrives. Table writes wait for the outputs to be acknowledged, so a
        crash can repeat an event but never lose one."""
        if self.stage.settling():
            return
        if self.stage.wake_index.stale:
            # Under the lock: a batch awaiting Kafka's acknowledgements has set its customers'
            # wakes but not yet written their timelines, and a rebuild from the table meanwhile
            # would lose them (their clocks then judged again only on a new contact).
            async with self.stage.stepping:
                if self.stage.wake_index.stale and not self.stage.settling():
                    self.stage.reindex()
        await self.stage.guarded(self.judge_due)

    async def judge_due(self) -> None:
        judged = 0
        while judged < SLA_KEYS_PER_TICK:
            async with self.stage.stepping:
                taken = await self.judge_a_hold()
            if taken is None or taken < SLA_KEYS_PER_HOLD:  # a rebalance began, or none left
                return
            judged += taken

    async def judge_a_hold(self) -> int | None:
        """Take up to SLA_KEYS_PER_HOLD due customers and step them with no new contact; how
        many were taken, None if a rebalance began meanwhile. The caller holds the lock: a
        customer taken off the wake index is judged before anything else can step or expire
        it."""
        stage = self.stage
        if stage.settling() or stage.wake_index.stale:  # a rebalance began since the tick did
            return None
        sla = stage.sla_context()
        started = time.perf_counter()
        taken = stage.wake_index.due(sla.wall_ms, sla.watermark_ms, limit=SLA_KEYS_PER_HOLD)
        due = [k for k in taken if k in stage.table]
        no_contacts: list[dict[str, Any]] = []
        written = await stage.step_and_publish(
            ((key, no_contacts) for key in due), sla, every=False
        )
        if stage.settling():  # revoked meanwhile: these timelines may be another worker's now
            stage.wake_index.stale = True
            return None
        for key, new_state in written:
            await stage.keep(key, new_state)
        if due:
            stage.metrics.stage_seconds.labels("sla").observe(time.perf_counter() - started)
            stage.metrics.batch_size.labels("sla").observe(len(due))
        return len(taken)
