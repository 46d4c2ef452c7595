"""Instants at which a customer's state needs another look: SLA clocks changing (so a timer
re-judges only the customers that are due) and timelines expiring."""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class DueIndex:
    """key -> instant; takes off, earliest first, the keys whose instant has come."""

    def __init__(self) -> None:
        self._at: dict[bytes, int] = {}
        self._heap: list[tuple[int, bytes]] = []

    def set(self, key: bytes, instant: int | None) -> None:
        if instant is None:
            self._at.pop(key, None)
        elif self._at.get(key) != instant:
            self._at[key] = instant
            heapq.heappush(self._heap, (instant, key))

    def pop_due(self, now: int, limit: int) -> list[bytes]:
        out: list[bytes] = []
        heap = self._heap
        while heap and heap[0][0] <= now and len(out) < limit:
            instant, key = heapq.heappop(heap)
            if self._at.get(key) == instant:  # else superseded or removed
                del self._at[key]
                out.append(key)
        if len(heap) > 4 * len(self._at) + 1024:  # superseded entries pile up: compact
            self._heap = [(at, key) for key, at in self._at.items()]
            heapq.heapify(self._heap)
        return out

    def clear(self) -> None:
        self._at.clear()
        self._heap.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def __len__(self) -> int:
        return len(self._at)


class WakeIndex:
    """key -> (instant, live). Live instants are wall-clock, replay ones event-time."""

    def __init__(self) -> None:
        self._live = DueIndex()
        self._replay = DueIndex()
        self.stale = True  # rebuild from the table after (re)assignment

    def set(self, key: bytes, wake: tuple[int, bool] | None) -> None:
        instant, live = wake if wake is not None else (None, False)
        (self._live if live else self._replay).set(key, instant)
        (self._replay if live else self._live).set(key, None)

    def rebuild(self, entries: Iterable[tuple[bytes, tuple[int, bool] | None]]) -> None:
        self._live.clear()
        self._replay.clear()
        for key, wake in entries:
            self.set(key, wake)
        self.stale = False

    def due(self, wall_ms: int, watermark_ms: int, limit: int = 5000) -> list[bytes]:
        """Keys whose clocks changed by now (and drop them: judging them sets them again)."""
        out = self._live.pop_due(wall_ms, limit)
        return out + self._replay.pop_due(watermark_ms, limit - len(out))

    def __contains__(self, key: object) -> bool:
        return key in self._live or key in self._replay

    def __len__(self) -> int:
        return len(self._live) + len(self._replay)
