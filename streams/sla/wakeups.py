"""When each customer's SLA clocks next change, so a timer re-judges only those that are due."""

from __future__ import annotations

import heapq
from collections.abc import Iterable


class WakeIndex:
    """key -> (instant, live). Live instants are wall-clock, replay ones event-time."""

    def __init__(self) -> None:
        self._wake: dict[bytes, tuple[int, bool]] = {}
        self._heaps: dict[bool, list[tuple[int, bytes]]] = {True: [], False: []}
        self.stale = True  # rebuild from the table after (re)assignment

    def set(self, key: bytes, wake: tuple[int, bool] | None) -> None:
        if wake is None:
            self._wake.pop(key, None)
            return
        if self._wake.get(key) != wake:
            self._wake[key] = wake
            heapq.heappush(self._heaps[wake[1]], (wake[0], key))

    def rebuild(self, entries: Iterable[tuple[bytes, tuple[int, bool] | None]]) -> None:
        self._wake.clear()
        self._heaps = {True: [], False: []}
        for key, wake in entries:
            self.set(key, wake)
        self.stale = False

    def due(self, wall_ms: int, watermark_ms: int, limit: int = 5000) -> list[bytes]:
        """Keys whose clocks changed by now (and drop them: judging them sets them again)."""
        out: list[bytes] = []
        for live, now in ((True, wall_ms), (False, watermark_ms)):
            heap = self._heaps[live]
            while heap and heap[0][0] <= now and len(out) < limit:
                instant, key = heapq.heappop(heap)
                if self._wake.get(key) == (instant, live):  # else superseded
                    del self._wake[key]
                    out.append(key)
        return out

    def __len__(self) -> int:
        return len(self._wake)
