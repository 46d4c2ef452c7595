"""An LRU cache of parsed timelines: the last ones of the busiest customers, beside the table.

A step otherwise decompresses, parses and re-derives a customer's whole timeline on every
touch: the cost of a customer who writes a lot grows with their history. An entry is used
only while the table still holds the very value it was parsed from, so it can be stale only
in memory, never in effect.
"""

from __future__ import annotations

from collections import OrderedDict

from streams.stages.timeline import TimelineState


class TimelineCache:
    """key -> (stored value, parsed state), least recently used dropped beyond
    ``max_messages`` messages in all."""

    def __init__(self, max_messages: int) -> None:
        self.max_messages = max_messages
        self._entries: OrderedDict[bytes, tuple[bytes, TimelineState]] = OrderedDict()
        self._messages = 0

    def load(self, key: bytes, stored: bytes | None) -> TimelineState:
        entry = self._entries.get(key)
        if stored is not None and entry is not None:
            value, state = entry
            if value is stored or value == stored:
                self._entries.move_to_end(key)
                return state
        return TimelineState.load(stored)

    def keep(self, key: bytes, stored: bytes, state: TimelineState) -> None:
        """Remember ``state`` as the parse of ``stored``."""
        self.forget(key)
        if len(state.messages) > self.max_messages:
            return
        self._entries[key] = (stored, state)
        self._messages += len(state.messages)
        while self._messages > self.max_messages:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._messages -= len(dropped.messages)

    def forget(self, key: bytes) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._messages -= len(old[1].messages)

    def clear(self) -> None:
        self._entries.clear()
        self._messages = 0

    def __len__(self) -> int:
        return len(self._entries)
