"""SLA clocks: deadlines, elapsed business time, and the events that are true at an instant.

A clock starts at `started_at_ms`, runs only inside the calendar's open spans and outside
pauses, and stops at `stopped_at_ms` (answer or resolution). Every instant that matters is a
function of those inputs alone:

- warn point W: when `ceil(warning_ratio * target)` of running time has elapsed;
- deadline D:   when the whole target has elapsed;
- stop S.

Events, as of `now_ms` (only a stop at or before now counts as known):

- warning:  now >= W and not stopped at or before W;
- met:      stopped, and S <= D;
- breached: now >= D and not stopped at or before D (unanswered, or answered late).

So met and breached exclude each other, and each event, once true, stays true with the
same content: the evaluation instant never enters an event. The breach of a late answer is
the same event as the breach seen before the answer came (it occurred at D), which is what
makes the live path (now = wall clock) and the replay path (now = watermark) agree.
A warning carries the deadline as it stood at the warn point, so a pause that begins later
moves the deadline without rewriting the warning.

Only new input changes an event: an answer timestamped before the deadline that reaches
the live path after it turns the breach it already reported into met. Both carry the
same event_id (`<subject>:<kind>:outcome`), so an idempotent sink overwrites the breach
instead of storing both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from streams.sla.calendar import ALWAYS_OPEN, FOREVER_MS, Calendar
from streams.sla.model import EventType, Outcome, OwedTarget, Pause, SlaEvent, event_id
from streams.sla.policy import Rule

Span = tuple[int, int]


def deadline(
    started_at_ms: int,
    target_seconds: float,
    calendar: Calendar = ALWAYS_OPEN,
    pauses: Iterable[Pause] = (),
) -> int | None:
    """The instant `target_seconds` of open, unpaused time have run since started_at_ms.

    None while that depends on a pause with no end yet (the clock is stopped indefinitely).
    A deadline reached at the close of business is that close (Friday 18:00), not the
    next opening.
    """
    spans = _normalise(pauses, started_at_ms, None)
    return _reach(calendar, started_at_ms, round(target_seconds * 1000), spans)


def elapsed(
    start_ms: int,
    end_ms: int,
    calendar: Calendar = ALWAYS_OPEN,
    pauses: Iterable[Pause] = (),
) -> float:
    """Open, unpaused seconds in [start_ms, end_ms)."""
    return _elapsed_ms(calendar, start_ms, end_ms, _normalise(pauses, start_ms, end_ms)) / 1000


@dataclass(frozen=True)
class Schedule:
    """The instants of one clock, given everything known about it (including its stop)."""

    warn_at_ms: int | None
    deadline_ms: int | None
    stopped_at_ms: int | None


def schedule(target: OwedTarget, rule: Rule, calendar: Calendar) -> Schedule:
    """Warn point and deadline of a clock; None while an open-ended pause holds them back."""
    return _schedule(_Clock(target, rule, calendar, target.stopped_at_ms))


def evaluate(target: OwedTarget, rule: Rule, calendar: Calendar, now_ms: int) -> list[SlaEvent]:
    """All events true of this clock as of now_ms, in the order they occurred."""
    stop = _known_stop(target, now_ms)
    return _events(_Clock(target, rule, calendar, stop), stop, now_ms)


def outcome(target: OwedTarget, rule: Rule, calendar: Calendar, now_ms: int) -> Outcome:
    """'met' or 'breached' once decided as of now_ms, else 'open'."""
    return _outcome(evaluate(target, rule, calendar, now_ms))


def next_change(target: OwedTarget, rule: Rule, calendar: Calendar, now_ms: int) -> int | None:
    """The first instant after now_ms at which evaluate() would return more; None if never
    (decided already, or held by an open-ended pause: only a new input can change it)."""
    return _next_change(_Clock(target, rule, calendar, target.stopped_at_ms), now_ms)


@dataclass(frozen=True)
class Assessment:
    """evaluate(), next_change(), schedule() and outcome() of one clock at one instant."""

    events: list[SlaEvent]
    next_change_ms: int | None
    schedule: Schedule
    outcome: Outcome


def assess(target: OwedTarget, rule: Rule, calendar: Calendar, now_ms: int) -> Assessment:
    """All four at once: the judge asks them of every clock of a customer on every step,
    and the clock's instants are the costly part (once here, not four times)."""
    full = _Clock(target, rule, calendar, target.stopped_at_ms)
    stop = _known_stop(target, now_ms)
    known = full if stop == target.stopped_at_ms else _Clock(target, rule, calendar, stop)
    events = _events(known, stop, now_ms)
    return Assessment(
        events,
        _next_change(full, now_ms),
        _schedule(full),
        _outcome(events),
    )


def _events(clock: _Clock, stop: int | None, now_ms: int) -> list[SlaEvent]:
    """The events true as of now_ms of a clock built with the stop known at now_ms."""
    calendar, started_at_ms = clock.calendar, clock.target.started_at_ms
    events: list[SlaEvent] = []
    warn_at, due = clock.warn_at, clock.deadline
    if warn_at is not None and warn_at <= now_ms and (stop is None or stop > warn_at):
        # The deadline as it stood at the warning: later pauses must not rewrite this event.
        due_then = _reach(calendar, started_at_ms, clock.target_ms, clock.until(warn_at))
        assert due_then is not None
        events.append(clock.event("warning", due_then, clock.warn_ms, warn_at))
    if stop is not None and due is not None and stop <= due:
        spent = _elapsed_ms(calendar, started_at_ms, stop, clock.pauses)
        events.append(clock.event("met", due, spent, stop))
    elif due is not None and due <= now_ms:
        events.append(clock.event("breached", due, clock.target_ms, due))
    return sorted(events, key=lambda e: e.occurred_at_ms)


def _outcome(events: list[SlaEvent]) -> Outcome:
    types = {event.event_type for event in events}
    if "met" in types:
        return "met"
    return "breached" if "breached" in types else "open"


def _schedule(clock: _Clock) -> Schedule:
    """schedule() of a clock built with its final stop."""
    return Schedule(clock.warn_at, clock.deadline, clock.target.stopped_at_ms)


def _next_change(clock: _Clock, now_ms: int) -> int | None:
    """next_change() of a clock built with its final stop."""
    stop = clock.target.stopped_at_ms
    warn_at, due = clock.warn_at, clock.deadline
    instants = []
    if warn_at is not None and (stop is None or warn_at < stop):
        instants.append(warn_at)  # warning
    if due is not None and (stop is None or due < stop):
        instants.append(due)  # breached
    if stop is not None and due is not None and stop <= due:
        instants.append(stop)  # met
    return min((t for t in instants if t > now_ms), default=None)


def next_wakeup(clocks: Iterable[tuple[OwedTarget, Rule, Calendar]], now_ms: int) -> int | None:
    """The first instant after now_ms at which any of the clocks changes state."""
    changes = (next_change(t, r, c, now_ms) for t, r, c in clocks)
    return min((t for t in changes if t is not None), default=None)


class _Clock:
    """One clock's instants, computed once, with the stop that is known."""

    def __init__(
        self, target: OwedTarget, rule: Rule, calendar: Calendar, stop: int | None
    ) -> None:
        self.target, self.rule, self.calendar = target, rule, calendar
        self.target_ms = rule.target_s(target.kind) * 1000
        self.warn_ms = _warn_ms(rule.warning_ratio, self.target_ms)
        self.pauses = _normalise(target.pauses, target.started_at_ms, stop)
        start = target.started_at_ms
        self.warn_at = _reach(calendar, start, self.warn_ms, self.pauses)
        self.deadline = _reach(calendar, start, self.target_ms, self.pauses)

    def until(self, instant: int) -> list[Span]:
        """The pauses as known at `instant`."""
        return [(a, min(b, instant)) for a, b in self.pauses if a < instant]

    def event(self, kind: EventType, due: int, spent_ms: int, at: int) -> SlaEvent:
        t = self.target
        return SlaEvent(
            event_id=event_id(t, kind),
            event_type=kind,
            kind=t.kind,
            conversation_id=t.conversation_id,
            contact_id=t.contact_id,
            rule=self.rule.name,
            deadline_ms=due,
            elapsed_s=spent_ms / 1000,
            target_s=self.rule.target_s(t.kind),
            brand=t.brand,
            channel=t.channel,
            priority=t.priority,
            tier=t.tier,
            occurred_at_ms=at,
        )


@lru_cache(maxsize=1024)
def _warn_ms(warning_ratio: float, target_ms: int) -> int:
    # exact: in floats 0.07 * 5_000 is 350.00000000000006, and ceil would add a millisecond
    return math.ceil(Fraction(str(warning_ratio)) * target_ms)


def _known_stop(target: OwedTarget, now_ms: int) -> int | None:
    stop = target.stopped_at_ms
    return stop if stop is not None and stop <= now_ms else None


def _normalise(pauses: Iterable[Pause], start: int, stop: int | None) -> list[Span]:
    """Pauses clipped to [start, stop), sorted and merged; an open end becomes FOREVER_MS."""
    limit = FOREVER_MS if stop is None else stop
    clipped = sorted(
        (max(p.start_ms, start), min(FOREVER_MS if p.end_ms is None else p.end_ms, limit))
        for p in pauses
    )
    merged: list[Span] = []
    for a, b in clipped:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _running(calendar: Calendar, start: int, pauses: Sequence[Span]) -> Iterator[Span]:
    """Open spans from start on, minus the (normalised) pauses; ends at an open-ended pause."""
    i = 0
    for a, b in calendar.open_spans(start):
        while a < b:
            while i < len(pauses) and pauses[i][1] <= a:
                i += 1
            if i == len(pauses) or pauses[i][0] >= b:
                yield a, b
                break
            pause_start, pause_end = pauses[i]
            if pause_start > a:
                yield a, pause_start
            if pause_end >= FOREVER_MS:
                return
            a = pause_end


def _reach(calendar: Calendar, start: int, budget_ms: int, pauses: Sequence[Span]) -> int | None:
    """The instant `budget_ms` of running time have elapsed since start (None: never)."""
    for a, b in _running(calendar, start, pauses):
        if b - a >= budget_ms:
            return a + budget_ms
        budget_ms -= b - a
    return None


def _elapsed_ms(calendar: Calendar, start: int, end: int, pauses: Sequence[Span]) -> int:
    total = 0
    for a, b in _running(calendar, start, pauses):
        if a >= end:
            break
        total += min(b, end) - a
    return total
