"""Which clock judges a customer's SLA: the wall clock (live) or event time (replay).

A timeline is *live* when its latest contact reached us within the allowed lateness of
happening; its clocks then run on the wall clock, checked by a timer every second or so.
Otherwise it is a *replay* (an imported archive, a backlog): its clocks run on the
event-time watermark — the latest event time this worker has seen, minus the allowed
lateness — so a 2017 archive is judged by 2017's clock, not today's. The watermark is the
worker's, not a partition's: a quiet partition's clocks move with the others. Per timeline
the clock never goes back: a restarted worker's watermark starts low, and a customer
who turns from live to replay (a message arriving late) is judged no earlier than the wall
clock last judged them, so a breach already published stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Watermark:
    lateness_ms: int
    max_event_ms: int = 0

    def observe(self, contact: dict[str, Any]) -> None:
        """A contact said to happen after ingest took it (a sender's clock running ahead)
        counts as happening then: it must not move every replay's clock on."""
        event_ms = min(int(contact["occurred_at"]), int(contact["received_at"]))
        if event_ms > self.max_event_ms:
            self.max_event_ms = event_ms

    def now(self) -> int:
        return self.max_event_ms - self.lateness_ms


def is_live(latest: dict[str, Any], lateness_ms: int) -> bool:
    """Live when the latest contact arrived within the allowed lateness of occurring."""
    return int(latest["received_at"]) - int(latest["occurred_at"]) <= lateness_ms


def judging_now(
    latest: dict[str, Any], lateness_ms: int, wall_ms: int, watermark_ms: int, replay_floor: int
) -> tuple[int, bool]:
    """(now, live) for a timeline whose latest contact (by event time) is ``latest``."""
    if is_live(latest, lateness_ms):
        return wall_ms, True
    own = int(latest["occurred_at"]) - lateness_ms
    return max(replay_floor, watermark_ms, own), False
