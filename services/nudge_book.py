"""The nudger's memory of each clock and state, and what an SLA event makes it do: send now,
hold for a digest, or drop. Pure: the service (services/nudges.py) reads the ledger topic
into a ``NudgeBook``, asks it what to do with each event and each tick, does it, and writes
each outcome back to the ledger before it commits the event's offset.

Once per clock and state: a key of the ledger (``<subject>:<target>:<state>``) that has an
entry is never sent again, whatever replays of sla.events come. ``held`` entries carry their
nudge, so the digest survives a restart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from services.nudge_rules import Nudge, NudgeConfig, epoch_ms, ledger_key

Status = Literal["sent", "held", "dropped", "failed"]
FINAL: tuple[Status, ...] = ("sent", "dropped", "failed")


@dataclass(frozen=True)
class Entry:
    """A ledger record's value: what became of one clock in one state, and when."""

    status: Status
    at_ms: int
    nudge: Nudge | None = None  # kept while held

    def encode(self) -> bytes:
        body: dict[str, Any] = {"status": self.status, "at": self.at_ms}
        if self.nudge is not None:
            body["nudge"] = self.nudge.as_json()
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        body = json.loads(raw)
        nudge = Nudge.from_json(body["nudge"]) if body.get("nudge") else None
        return cls(body["status"], int(body["at"]), nudge)


@dataclass(frozen=True)
class Step:
    """One thing to do: ``send`` a nudge now, ``hold`` it for its brand's digest, or ``drop``
    the ledger key (it will not be sent: superseded, retracted, answered)."""

    action: Literal["send", "hold", "drop"]
    key: str
    nudge: Nudge | None = None


def clock_and_slot(event_id: str) -> tuple[str, str]:
    """``<subject>:<target>:warning|outcome`` -> (``<subject>:<target>``, slot)."""
    clock, _, slot = event_id.rpartition(":")
    return clock, slot


class NudgeBook:
    """The ledger as a table, and the rules that read it."""

    def __init__(self, config: NudgeConfig, max_age_ms: int) -> None:
        self.config = config
        self.max_age_ms = max_age_ms
        self.entries: dict[str, Entry] = {}
        self.held: dict[str, Entry] = {}  # the entries waiting for a digest

    def restore(self, key: str, entry: Entry | None) -> None:
        """A ledger record read back at start (None: a tombstone, the key forgotten)."""
        if entry is None:
            self.entries.pop(key, None)
            self.held.pop(key, None)
        else:
            self.settle(key, entry)

    def settle(self, key: str, entry: Entry) -> None:
        self.entries[key] = entry
        if entry.status == "held":
            self.held[key] = entry
        else:
            self.held.pop(key, None)

    def prune(self, now_ms: int) -> int:
        """Forget the settled entries older than the oldest event still nudged: a repeat of
        their event is too old to be nudged anyway, so months of traffic do not pile up in
        memory. Returns how many went."""
        bound = now_ms - self.max_age_ms
        old = [k for k, e in self.entries.items() if e.status in FINAL and e.at_ms < bound]
        for key in old:
            del self.entries[key]
        return len(old)

    def decide(self, event_id: str, record: Mapping[str, Any] | None, now_ms: int) -> list[Step]:
        clock, slot = clock_and_slot(event_id)
        if record is None:  # a retracted warning, or an erased customer's outcome
            state = "warning" if slot == "warning" else "breached"
            return self._drop_held(clock, state)
        if str(record["brand"]).casefold() not in self.config.routes:
            return []  # a brand no team hears of: nothing to remember either
        kind = record["event_type"]
        if kind == "met":  # answered in time: nothing more to say about this clock
            return self._drop_open(clock, "warning") + self._drop_held(clock, "breached")
        if kind not in ("warning", "breached"):
            return []
        steps = self._drop_open(clock, "warning") if kind == "breached" else []
        nudge = Nudge.of(clock, kind, record)
        route = self.config.route(nudge.brand, kind)
        if route is None or nudge.key in self.entries or not self._live(record, now_ms):
            return steps
        action: Literal["send", "hold"] = (
            "hold" if route.quiet and route.quiet.holds(now_ms) else "send"
        )
        return [*steps, Step(action, nudge.key, nudge)]

    def _live(self, record: Mapping[str, Any], now_ms: int) -> bool:
        """Judged against the wall clock (an import's replayed history is not nudged), and
        recent enough to act on."""
        occurred = epoch_ms(record["occurred_at"])
        return record.get("clock") == "live" and now_ms - occurred <= self.max_age_ms

    def _drop_open(self, clock: str, state: str) -> list[Step]:
        """Drop the key unless it is settled (sent, dropped, failed): a later repeat of its
        event then finds it in the ledger."""
        key = ledger_key(clock, state)
        found = self.entries.get(key)
        return [] if found is not None and found.status in FINAL else [Step("drop", key)]

    def _drop_held(self, clock: str, state: str) -> list[Step]:
        key = ledger_key(clock, state)
        found = self.entries.get(key)
        return [Step("drop", key)] if found is not None and found.status == "held" else []

    def digests(self, now_ms: int) -> dict[str, list[Nudge]]:
        """Case-folded brand -> its held nudges, for each brand whose quiet hours are over
        (or that is no longer configured to hold them)."""
        out: dict[str, list[Nudge]] = {}
        for entry in self.held.values():
            if entry.nudge is None:
                continue
            route = self.config.route(entry.nudge.brand, entry.nudge.state)
            if route is None or route.quiet is None or not route.quiet.holds(now_ms):
                out.setdefault(entry.nudge.brand.casefold(), []).append(entry.nudge)
        return out
