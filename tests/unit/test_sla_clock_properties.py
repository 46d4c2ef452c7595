"""Properties of SLA clocks that must hold for any input, calendar and evaluation instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sla.calendar import ALWAYS_OPEN, BusinessHours
from streams.sla.clock import (
    Assessment,
    assess,
    deadline,
    elapsed,
    evaluate,
    next_change,
    outcome,
    schedule,
)
from streams.sla.model import TARGET_KINDS, OwedTarget, Pause
from streams.sla.policy import Match, Rule

M = 60_000
H = 60 * M
D = 24 * H
FAR = 400 * D

CALENDARS = [
    ALWAYS_OPEN,
    BusinessHours(
        "Europe/Rome",
        (((540, 780), (840, 1080)),) * 5 + (((540, 720),), ()),
        frozenset({date(2025, 3, 31), date(2025, 10, 27), date(2025, 12, 25)}),
    ),
    BusinessHours("America/New_York", (((1320, 360),),) * 4 + ((), (), ((1320, 360),))),
    BusinessHours("Australia/Sydney", (((0, 1440),),) * 7),
]
STARTS = [
    datetime(2025, 3, 28, 17, tzinfo=UTC),  # Friday before the EU spring-forward
    datetime(2025, 10, 24, 15, tzinfo=UTC),  # Friday before the EU fall-back
    datetime(2025, 3, 7, 20, tzinfo=UTC),  # Friday before the US spring-forward
    datetime(2025, 4, 4, 10, tzinfo=UTC),  # Sydney fall-back weekend
    datetime(2025, 12, 23, 8, tzinfo=UTC),
]


@st.composite
def clocks(draw):
    """A clock, and instants to judge it at, biased to its warn point, deadline and stop."""
    calendar = draw(st.sampled_from(CALENDARS))
    base = int(draw(st.sampled_from(STARTS)).timestamp() * 1000)
    start = base + draw(st.integers(0, 3 * D))
    kind = draw(st.sampled_from(TARGET_KINDS))
    target_s = draw(st.one_of(st.integers(1, 600), st.integers(600, 2 * 86400)))
    ratio = draw(st.sampled_from([0.5, 0.75, 0.9, 0.999]) | st.floats(0.01, 0.99))
    rule = Rule("r", Match(), {kind: target_s}, warning_ratio=ratio)
    pauses = []
    for _ in range(draw(st.integers(0, 4))):
        p_start = start + draw(st.integers(-H, 6 * D))
        open_ended = draw(st.integers(0, 4)) == 0
        p_end = None if open_ended else draw(st.integers(p_start, p_start + 2 * D))
        pauses.append(Pause(p_start, p_end))
    contact = None if kind == "resolution" else "contact"
    target = OwedTarget(kind, "conv", contact, "brand", "chat", "P1", None, start, None)
    target = replace(target, pauses=tuple(pauses))
    plan = schedule(target, rule, calendar)
    marks = [t for t in (plan.warn_at_ms, plan.deadline_ms) if t is not None] or [start]

    def near() -> int:
        return draw(st.sampled_from(marks)) + draw(st.sampled_from([-M, -1, 0, 1, M]))

    how = draw(st.sampled_from(["open", "anytime", "near"]))
    stop = {
        "open": lambda: None,
        "anytime": lambda: draw(st.integers(start, start + 6 * D)),
        "near": lambda: max(start, near()),
    }[how]()
    target = replace(target, stopped_at_ms=stop)
    nows = []
    for _ in range(draw(st.integers(1, 6))):
        how = draw(st.sampled_from(["anytime", "near", "stop"]))
        if how == "anytime" or (how == "stop" and stop is None):
            nows.append(draw(st.integers(start - H, start + 8 * D)))
        elif how == "near":
            nows.append(near())
        else:
            nows.append(stop + draw(st.sampled_from([-1, 0])))
    nows.sort()
    return target, rule, calendar, nows


@settings(max_examples=120, deadline=None)
@given(clocks())
def test_events_are_exactly_once_never_both_and_only_grow(clock):
    target, rule, calendar, nows = clock
    seen: dict[str, object] = {}
    previous: list = []
    for now in [*nows, now_far := target.started_at_ms + FAR]:
        events = evaluate(target, rule, calendar, now)
        kinds = [e.event_type for e in events]
        assert len(kinds) == len(set(kinds))
        assert not {"met", "breached"} <= set(kinds)
        assert len({e.event_id for e in events}) == len(events)
        assert all(e.occurred_at_ms <= now for e in events)
        assert set(previous) <= set(events)  # monotone, and an event never changes
        for event in events:
            assert seen.setdefault(event.event_id, event) == event
        expected = "met" if "met" in kinds else "breached" if "breached" in kinds else "open"
        assert outcome(target, rule, calendar, now) == expected
        previous = events
    if target.stopped_at_ms is not None:
        assert outcome(target, rule, calendar, now_far) != "open"


@settings(max_examples=120, deadline=None)
@given(clocks())
def test_outcome_is_settled_once_now_passes_the_stop_or_the_deadline(clock):
    target, rule, calendar, nows = clock
    plan = schedule(target, rule, calendar)
    stop, due = target.stopped_at_ms, plan.deadline_ms
    final = evaluate(target, rule, calendar, target.started_at_ms + FAR)
    final_outcome = [e for e in final if e.event_type != "warning"]
    if stop is None and due is None:
        assert final_outcome == []  # held by a pause without end: only new input decides
        return
    settled_at = min(t for t in (stop, due) if t is not None)
    assert final_outcome[0].event_type == (
        "met" if stop is not None and stop <= due else "breached"
    )
    for now in [settled_at, *nows]:
        if now >= settled_at:
            events = evaluate(target, rule, calendar, now)
            assert [e for e in events if e.event_type != "warning"] == final_outcome


@settings(max_examples=120, deadline=None)
@given(clocks())
def test_live_view_equals_replay_at_every_instant(clock):
    """Live: at wall-clock `now`, only the stop and pause edges up to now are known.
    Replay: the whole target is known, judged at watermark `now`. Same events."""
    target, rule, calendar, nows = clock
    for now in nows:
        stop = target.stopped_at_ms
        live = replace(
            target,
            stopped_at_ms=stop if stop is not None and stop <= now else None,
            pauses=tuple(
                Pause(p.start_ms, p.end_ms if p.end_ms is not None and p.end_ms <= now else None)
                for p in target.pauses
                if p.start_ms <= now
            ),
        )
        assert evaluate(live, rule, calendar, now) == evaluate(target, rule, calendar, now)


@settings(max_examples=100, deadline=None)
@given(clocks(), st.randoms(use_true_random=False))
def test_pauses_in_any_arrival_order_and_split_give_the_same_events(clock, rng):
    target, rule, calendar, nows = clock
    pauses = list(target.pauses)
    finite = [p for p in pauses if p.end_ms is not None]
    if finite:  # the same waiting period, reported in two pieces and once more in full
        p = finite[0]
        middle = (p.start_ms + p.end_ms) // 2
        pauses += [Pause(p.start_ms, middle), Pause(middle, p.end_ms)]
    rng.shuffle(pauses)
    other = replace(target, pauses=tuple(pauses))
    for now in nows:
        assert evaluate(other, rule, calendar, now) == evaluate(target, rule, calendar, now)


@settings(max_examples=100, deadline=None)
@given(clocks())
def test_next_change_is_exactly_when_evaluation_changes(clock):
    target, rule, calendar, nows = clock
    for now in nows:
        events = evaluate(target, rule, calendar, now)
        wake = next_change(target, rule, calendar, now)
        if wake is None:
            assert evaluate(target, rule, calendar, target.started_at_ms + FAR) == events
        else:
            assert wake > now
            assert evaluate(target, rule, calendar, wake - 1) == events
            assert len(evaluate(target, rule, calendar, wake)) > len(events)


@settings(max_examples=100, deadline=None)
@given(clocks())
def test_deadline_is_the_first_instant_the_target_has_run(clock):
    target, rule, calendar, _ = clock
    seconds = rule.target_s(target.kind)
    due = deadline(target.started_at_ms, seconds, calendar, target.pauses)
    if due is None:
        assert any(p.end_ms is None for p in target.pauses)
        return
    assert elapsed(target.started_at_ms, due, calendar, target.pauses) == seconds
    assert elapsed(target.started_at_ms, due - 1, calendar, target.pauses) < seconds


@settings(max_examples=120, deadline=None)
@given(clocks())
def test_assess_answers_what_the_four_questions_answer(clock):
    target, rule, calendar, nows = clock
    plan = schedule(target, rule, calendar)
    assert [assess(target, rule, calendar, now) for now in nows] == [
        Assessment(
            evaluate(target, rule, calendar, now),
            next_change(target, rule, calendar, now),
            plan,
            outcome(target, rule, calendar, now),
        )
        for now in nows
    ]
