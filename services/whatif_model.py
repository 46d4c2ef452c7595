"""What-if SLA replay, the pure part: stored contacts -> each customer's timeline -> the
clocks the live thread stage runs, judged under a policy -> per-group figures.

The live stage (streams.stages.timeline.thread_timeline) judges a customer's timeline with
``clocks(derive(messages), messages, policy)`` and ``judge(...)`` at the instant
``judging_now`` gives: the wall clock for a live timeline, the event-time watermark for a
replayed one. This module rebuilds those inputs from the stored contact documents and calls
the same functions, once per policy. No I/O, no clock read: the caller passes the rows and
the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from services.report import percentile
from streams.customers import timeline_key
from streams.rules.threading import ThreadingParams, derive
from streams.rules.timeline import Message, Timeline
from streams.sla.clock import elapsed
from streams.sla.judge import Clock, clocks, judge
from streams.sla.model import TARGET_KINDS, OwedTarget, TargetKind, event_id
from streams.sla.policy import Policy
from streams.sla.watermark import Watermark, judging_now

#: The contact fields the threading rules and the clocks read (streams.rules.timeline.Message
#: plus the enrichment the clocks use), and received_at for the watermark.
FIELDS = (
    "contact_id", "source", "source_id", "channel", "direction", "kind", "brand",
    "customer_id", "conversation_ref", "in_reply_to", "references", "occurred_at",
    "received_at", "fingerprint", "priority", "tier", "asks_customer",
)  # fmt: skip


@dataclass(frozen=True)
class Window:
    """Which clocks count: those of a brand (any case), started in [since_ms, until_ms).

    A clock starts at its customer message's occurred_at (first or next response, hard
    limit), or at the conversation's first message (resolution). The whole history is
    threaded and judged either way: a clock started inside the window is followed to its
    end, wherever that falls."""

    since_ms: int | None = None
    until_ms: int | None = None
    brand: str | None = None

    def __post_init__(self) -> None:
        since, until = self.since_ms, self.until_ms
        if since is not None and until is not None and until <= since:
            raise ValueError("--until must be later than --since")

    def takes_brand(self, brand: str) -> bool:
        return self.brand is None or brand.casefold() == self.brand.casefold()

    def takes(self, target: OwedTarget) -> bool:
        start = target.started_at_ms
        return (
            self.takes_brand(target.brand)
            and (self.since_ms is None or start >= self.since_ms)
            and (self.until_ms is None or start < self.until_ms)
        )


@dataclass
class History:
    """Every stored contact, in the timelines the thread stage keys them by, and the
    watermark a worker that had read them all would hold."""

    timelines: dict[bytes, Timeline] = field(default_factory=dict)
    watermark: Watermark = field(default_factory=lambda: Watermark(0))

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]], lateness_ms: int) -> History:
        history = cls(watermark=Watermark(lateness_ms))
        for row in rows:
            message = _message(row)
            history.watermark.observe(dict(message))
            key = timeline_key(message["brand"], message["customer_id"])
            history.timelines.setdefault(key, {})[message["contact_id"]] = message
        return history


def _message(row: Mapping[str, Any]) -> Message:
    missing = [f for f in ("contact_id", "brand", "customer_id", "occurred_at") if f not in row]
    if missing:
        raise ValueError(f"a stored contact lacks {', '.join(missing)}: {row.get('contact_id')}")
    message = {f: row.get(f) for f in FIELDS}
    message["references"] = list(row.get("references") or [])
    return cast(Message, message)


@dataclass(frozen=True)
class Timed:
    """One clock judged: its group, outcome, target, and the running time to its stop
    (None while it has not stopped as of the judging instant)."""

    brand: str
    channel: str
    kind: TargetKind
    outcome: str
    target_s: int
    elapsed_s: float | None


def retime(
    history: History,
    policy: Policy,
    params: ThreadingParams,
    wall_ms: int,
    window: Window = Window(),
) -> list[Timed]:
    """Every clock of the window, as the live stage judges it under ``policy``."""
    out: list[Timed] = []
    for messages in history.timelines.values():
        first = next(iter(messages.values()))
        if not window.takes_brand(first["brand"]):
            continue
        latest = max(messages.values(), key=lambda m: (m["occurred_at"], m["contact_id"]))
        # the floor a worker keeps per timeline is not stored: 0 (see docs/what-if.md)
        now_ms, _ = judging_now(
            dict(latest), history.watermark.lateness_ms, wall_ms, history.watermark.now(), 0
        )
        derived = derive(messages, params)
        taken = [c for c in clocks(derived, messages, policy) if window.takes(c[0])]
        out += judged(taken, now_ms)
    return out


def judged(taken: Sequence[Clock], now_ms: int) -> list[Timed]:
    """The clocks' outcomes from judge()'s events (a met or a breach, else open), and the
    running time to each stop known at now_ms (streams.sla.clock.elapsed)."""
    events = {e.event_id: e.event_type for e in judge(taken, now_ms).events}
    out = []
    for target, rule, calendar in taken:
        outcome = events.get(event_id(target, "met"), "open")
        stop = target.stopped_at_ms
        took = None
        if stop is not None and stop <= now_ms:
            took = elapsed(target.started_at_ms, stop, calendar, target.pauses)
        out.append(
            Timed(target.brand, target.channel, target.kind, outcome, rule.target_s(target.kind),
                  took)
        )  # fmt: skip
    return out


@dataclass
class Tally:
    met: int = 0
    breached: int = 0
    open: int = 0
    elapsed: list[float] = field(default_factory=list)
    targets: set[int] = field(default_factory=set)

    def add(self, timed: Timed) -> None:
        if timed.outcome == "met":
            self.met += 1
        elif timed.outcome == "breached":
            self.breached += 1
        else:
            self.open += 1
        if timed.elapsed_s is not None:
            self.elapsed.append(timed.elapsed_s)
        self.targets.add(timed.target_s)

    def figures(self) -> dict[str, Any]:
        """Share met of the decided clocks (met + breached), as ``ascolto report`` counts it;
        percentiles of the running time of the stopped ones."""
        decided = self.met + self.breached
        times = sorted(self.elapsed)
        return {
            "met": self.met,
            "breached": self.breached,
            "open": self.open,
            "met_share": round(self.met / decided, 4) if decided else None,
            "p50_seconds": percentile(times, 50),
            "p90_seconds": percentile(times, 90),
            "target_seconds": sorted(self.targets),
        }


Group = tuple[str, str, TargetKind]  # brand, channel, target kind


def _order(group: Group) -> tuple[str, str, int]:
    return group[0], group[1], TARGET_KINDS.index(group[2])


def tally(results: Iterable[Timed]) -> dict[Group, Tally]:
    groups: dict[Group, Tally] = {}
    for timed in results:
        groups.setdefault((timed.brand, timed.channel, timed.kind), Tally()).add(timed)
    return groups


def compare(current: Iterable[Timed], proposed: Iterable[Timed]) -> list[dict[str, Any]]:
    """One row per brand, channel and target: the figures under each policy. A group only
    one policy times (a target only one of them sets) has zeros on the other side."""
    now, then = tally(current), tally(proposed)
    order = sorted(now.keys() | then.keys(), key=_order)
    return [
        {
            "brand": brand,
            "channel": channel,
            "target": kind,
            "current": now.get((brand, channel, kind), Tally()).figures(),
            "proposed": then.get((brand, channel, kind), Tally()).figures(),
        }
        for brand, channel, kind in order
    ]
