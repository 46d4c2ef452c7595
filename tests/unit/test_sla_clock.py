"""SLA clocks: deadlines with pauses, and the warning/met/breached events."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.sla.calendar import ALWAYS_OPEN, BusinessHours
from streams.sla.clock import (
    deadline,
    elapsed,
    evaluate,
    next_change,
    next_wakeup,
    outcome,
    schedule,
)
from streams.sla.model import OwedTarget, Pause
from streams.sla.policy import Match, Rule

S = 1000
M = 60 * S
H = 60 * M
T0 = 1_750_000_000_000  # a Sunday afternoon, June 2025

SOCIAL = Rule("social", Match(channel="social"), {"first_response": 3600, "resolution": 86400})
EMAIL = Rule(
    "email",
    Match(channel="email"),
    {"first_response": 6 * 3600, "hard_limit": 24 * 3600},
    warning_ratio=0.5,
)


def owed(kind="first_response", stop=None, pauses=(), channel="social", start=T0) -> OwedTarget:
    contact = None if kind == "resolution" else "c-1"
    return OwedTarget(kind, "conv-1", contact, "acme", channel, "P2", "gold", start, stop, pauses)


def types(target, rule=SOCIAL, now=T0, calendar=ALWAYS_OPEN) -> list[str]:
    return [e.event_type for e in evaluate(target, rule, calendar, now)]


# ---- deadline and elapsed ---------------------------------------------------------------


def test_pauses_push_the_deadline():
    pauses = [Pause(T0 + 10 * M, T0 + 40 * M)]
    assert deadline(T0, 3600, ALWAYS_OPEN, pauses) == T0 + 90 * M
    assert elapsed(T0, T0 + 90 * M, ALWAYS_OPEN, pauses) == 3600


def test_pauses_in_any_order_and_overlapping_count_once():
    a, b, c = Pause(T0 + 10 * M, T0 + 20 * M), Pause(T0 + 15 * M, T0 + 30 * M), Pause(T0 + 50 * M)
    assert deadline(T0, 3600, ALWAYS_OPEN, [b, a]) == T0 + 80 * M
    assert deadline(T0, 3600, ALWAYS_OPEN, [c, b, a]) is None  # waiting on the customer
    assert deadline(T0, 1800, ALWAYS_OPEN, [c, b, a]) == T0 + 50 * M
    assert elapsed(T0, T0 + 10 * H, ALWAYS_OPEN, [c, a, b]) == 30 * 60


def test_pauses_before_the_start_do_not_count():
    assert deadline(T0, 60, ALWAYS_OPEN, [Pause(T0 - H, T0 + M)]) == T0 + 2 * M


def test_pause_outside_business_hours_changes_nothing():
    office = BusinessHours("UTC", (((540, 1080),),) * 5 + ((), ()))
    monday_9 = 1_750_064_400_000  # Monday 2025-06-16 09:00 UTC
    night = Pause(monday_9 + 10 * H, monday_9 + 20 * H)
    assert deadline(monday_9, 10 * 3600, office, [night]) == monday_9 + 25 * H


# ---- events -----------------------------------------------------------------------------


def test_unanswered_warns_then_breaches():
    target = owed()
    assert types(target, now=T0 + 45 * M - 1) == []
    assert types(target, now=T0 + 45 * M) == ["warning"]
    assert types(target, now=T0 + 60 * M - 1) == ["warning"]
    warning, breach = evaluate(target, SOCIAL, ALWAYS_OPEN, T0 + 60 * M)
    assert breach.event_type == "breached"
    assert breach.occurred_at_ms == breach.deadline_ms == T0 + H
    assert breach.elapsed_s == breach.target_s == 3600
    assert warning.occurred_at_ms == T0 + 45 * M and warning.elapsed_s == 2700
    assert warning.deadline_ms == T0 + H
    assert outcome(target, SOCIAL, ALWAYS_OPEN, T0 + 2 * H) == "breached"


def test_answered_early_is_met_without_warning():
    target = owed(stop=T0 + 30 * M)
    [met] = evaluate(target, SOCIAL, ALWAYS_OPEN, T0 + 5 * H)
    assert met.event_type == "met" and met.occurred_at_ms == T0 + 30 * M
    assert met.elapsed_s == 1800 and met.deadline_ms == T0 + H
    assert outcome(target, SOCIAL, ALWAYS_OPEN, T0 + 5 * H) == "met"


def test_answered_after_the_warning_is_warned_and_met():
    assert types(owed(stop=T0 + 50 * M), now=T0 + 5 * H) == ["warning", "met"]


def test_answered_at_the_warn_point_is_not_warned_and_at_the_deadline_is_met():
    assert types(owed(stop=T0 + 45 * M), now=T0 + 5 * H) == ["met"]
    assert types(owed(stop=T0 + H), now=T0 + 5 * H) == ["warning", "met"]


def test_answered_late_is_the_same_breach_as_unanswered():
    unanswered = evaluate(owed(), SOCIAL, ALWAYS_OPEN, T0 + 61 * M)
    late = evaluate(owed(stop=T0 + 3 * H), SOCIAL, ALWAYS_OPEN, T0 + 5 * H)
    assert late == unanswered
    assert [e.event_type for e in late] == ["warning", "breached"]


def test_an_answer_arriving_after_its_deadline_was_reported_replaces_the_breach():
    """Live path, out of order: breach reported at 61m, then an answer stamped 59m arrives."""
    [_, reported] = evaluate(owed(), SOCIAL, ALWAYS_OPEN, T0 + 61 * M)
    [_, corrected] = evaluate(owed(stop=T0 + 59 * M), SOCIAL, ALWAYS_OPEN, T0 + 62 * M)
    assert (reported.event_type, corrected.event_type) == ("breached", "met")
    assert reported.event_id == corrected.event_id  # the sink keeps one: the corrected one


def test_a_stop_after_now_is_not_known_yet():
    """Replay: the target already carries its answer, but the watermark has not reached it."""
    target = owed(stop=T0 + 50 * M)
    assert types(target, now=T0 + 49 * M) == ["warning"]
    assert outcome(target, SOCIAL, ALWAYS_OPEN, T0 + 49 * M) == "open"
    assert types(target, now=T0 + 50 * M) == ["warning", "met"]


def test_event_content():
    target = owed(kind="hard_limit", channel="email", stop=T0 + 30 * H)
    warning, breach = evaluate(target, EMAIL, ALWAYS_OPEN, T0 + 40 * H)
    assert warning.event_id == "c-1:hard_limit:warning"
    assert breach.event_id == "c-1:hard_limit:outcome"
    assert breach.kind == "hard_limit" and breach.rule == "email" and breach.target_s == 86400
    assert (breach.conversation_id, breach.contact_id) == ("conv-1", "c-1")
    assert (breach.brand, breach.channel, breach.priority, breach.tier) == (
        "acme",
        "email",
        "P2",
        "gold",
    )
    assert warning.occurred_at_ms == T0 + 12 * H  # the rule's own warning_ratio: 0.5
    met = evaluate(replace(target, stopped_at_ms=T0 + H), EMAIL, ALWAYS_OPEN, T0 + 40 * H)
    assert [e.event_id for e in met] == ["c-1:hard_limit:outcome"]  # one slot: met or breached


def test_resolution_is_about_the_conversation_and_pauses_while_waiting_on_the_customer():
    waiting = (Pause(T0 + 2 * H, T0 + 8 * H),)
    target = owed(kind="resolution", pauses=waiting)
    assert schedule(target, SOCIAL, ALWAYS_OPEN).deadline_ms == T0 + 30 * H
    assert types(target, now=T0 + 29 * H) == ["warning"]
    [warning, breach] = evaluate(target, SOCIAL, ALWAYS_OPEN, T0 + 30 * H)
    assert breach.event_id == "conv-1:resolution:outcome" and breach.contact_id is None
    assert warning.occurred_at_ms == T0 + 24 * H


def test_an_open_pause_holds_the_clock_until_the_customer_writes():
    target = owed(kind="resolution", pauses=(Pause(T0 + 2 * H),))
    assert types(target, now=T0 + 1000 * H) == []
    assert next_change(target, SOCIAL, ALWAYS_OPEN, T0 + 3 * H) is None
    assert schedule(target, SOCIAL, ALWAYS_OPEN).deadline_ms is None
    closed = replace(target, stopped_at_ms=T0 + 50 * H)  # closed while still waiting: met
    assert types(closed, now=T0 + 50 * H) == ["met"]
    resumed = replace(target, pauses=(Pause(T0 + 2 * H, T0 + 5 * H),))
    assert schedule(resumed, SOCIAL, ALWAYS_OPEN).deadline_ms == T0 + 27 * H


def test_a_warning_keeps_the_deadline_it_was_raised_with():
    """A pause that begins after the warning moves the deadline, not the warning event."""
    before = evaluate(owed(), SOCIAL, ALWAYS_OPEN, T0 + 50 * M)
    paused = owed(pauses=(Pause(T0 + 50 * M, T0 + 80 * M),))
    after = evaluate(paused, SOCIAL, ALWAYS_OPEN, T0 + 100 * M)
    assert after[0] == before[0]
    assert after[1].deadline_ms == T0 + 90 * M


def test_next_change_walks_warning_deadline_and_stop():
    target = owed(stop=T0 + 50 * M)
    assert next_change(target, SOCIAL, ALWAYS_OPEN, T0) == T0 + 45 * M
    assert next_change(target, SOCIAL, ALWAYS_OPEN, T0 + 45 * M) == T0 + 50 * M
    assert next_change(target, SOCIAL, ALWAYS_OPEN, T0 + 50 * M) is None
    late = owed(stop=T0 + 5 * H)
    assert next_change(late, SOCIAL, ALWAYS_OPEN, T0 + 45 * M) == T0 + H
    assert next_change(late, SOCIAL, ALWAYS_OPEN, T0 + H) is None  # the stop changes nothing
    clocks = [(owed(), SOCIAL, ALWAYS_OPEN), (owed(start=T0 + 10 * M), SOCIAL, ALWAYS_OPEN)]
    assert next_wakeup(clocks, T0 + 46 * M) == T0 + 55 * M
    assert next_wakeup([], T0) is None


def test_a_rule_without_the_kind_is_refused():
    with pytest.raises(ValueError, match="rule 'social' sets no hard_limit target"):
        evaluate(owed(kind="hard_limit"), SOCIAL, ALWAYS_OPEN, T0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "first_reply"}, "unknown target kind"),
        ({"contact_id": None}, "needs the contact_id"),
        ({"stopped_at_ms": T0 - 1}, "before started_at_ms"),
    ],
)
def test_malformed_targets_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        replace(owed(), **change)
    with pytest.raises(ValueError, match="ends before it starts"):
        Pause(T0, T0 - 1)
