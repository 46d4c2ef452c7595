"""The clocks a customer's conversations run (judge.clocks): when each one starts, pauses
and stops, and which rule it is judged by."""

from __future__ import annotations

from typing import Any

from streams.rules.threading import derive
from streams.sla.judge import clocks, judge
from streams.sla.model import Pause, SlaEvent
from streams.sla.policy import parse_policy

M = 60_000
H = 60 * M
T0 = 1_790_000_000_000

POLICY = parse_policy(
    """
version: 1
rules:
  - name: default
    targets: {first_response: 1h, next_response: 1h, resolution: 24h}
  - name: p1
    match: {priority: P1}
    targets: {first_response: 15m, resolution: 8h}
  - name: gold
    match: {tier: gold}
    targets: {resolution: 12h}
"""
)


def msg(
    sid: str,
    direction: str,
    at: int,
    parent: str | None = None,
    *,
    kind: str = "message",
    asks: bool = False,
    priority: str | None = None,
    tier: str | None = None,
) -> dict[str, Any]:
    return {
        "contact_id": f"id-{sid}", "source": "t", "source_id": sid, "channel": "social",
        "direction": direction, "kind": kind, "brand": "b", "customer_id": "c",
        "conversation_ref": None, "in_reply_to": parent, "references": [],
        "occurred_at": at, "fingerprint": f"fp-{sid}" if direction == "inbound" else None,
        "asks_customer": asks, "priority": priority, "tier": tier,
    }  # fmt: skip


def outcomes(messages: list[dict[str, Any]], now: int) -> dict[str, SlaEvent]:
    """The met/breached events as of now, by `<subject>:<kind>`; contacts by source id."""
    timeline = {m["contact_id"]: m for m in messages}
    events = judge(clocks(derive(timeline, now_ms=now), timeline, POLICY), now).events
    return {
        f"{e.contact_id or 'conv'}:{e.kind}".removeprefix("id-"): e
        for e in events
        if e.event_type != "warning"
    }


def resolution_clock(messages: list[dict[str, Any]], now: int):
    timeline = {m["contact_id"]: m for m in messages}
    [found] = [
        (target, rule)
        for target, rule, _ in clocks(derive(timeline, now_ms=now), timeline, POLICY)
        if target.kind == "resolution"
    ]
    return found


# ---- resolution: pauses -------------------------------------------------------------------


def test_a_question_the_customer_never_answered_pauses_resolution_until_the_close():
    messages = [
        msg("q1", "inbound", T0),
        msg("a1", "outbound", T0 + 30 * M, "q1", asks=True),
        msg("cl", "outbound", T0 + 40 * H, "a1", kind="close"),
    ]
    target, _ = resolution_clock(messages, T0 + 41 * H)
    assert target.stopped_at_ms == T0 + 40 * H
    assert target.pauses == (Pause(T0 + 30 * M, T0 + 40 * H),)
    resolution = outcomes(messages, T0 + 41 * H)["conv:resolution"]
    assert resolution.event_type == "met" and resolution.elapsed_s == 30 * 60


def test_a_reopened_conversation_does_not_count_the_time_it_was_closed():
    messages = [
        msg("q1", "inbound", T0),
        msg("a1", "outbound", T0 + 20 * M, "q1"),
        msg("cl", "outbound", T0 + 30 * M, "a1", kind="close"),
        msg("q2", "inbound", T0 + 30 * H, "a1"),
        msg("a2", "outbound", T0 + 30 * H + 10 * M, "q2"),
        msg("cl2", "outbound", T0 + 30 * H + 15 * M, "a2", kind="close"),
    ]
    target, _ = resolution_clock(messages, T0 + 31 * H)
    assert target.pauses == (Pause(T0 + 30 * M, T0 + 30 * H),)
    resolution = outcomes(messages, T0 + 31 * H)["conv:resolution"]
    assert resolution.event_type == "met" and resolution.elapsed_s == 45 * 60


def test_a_reopened_conversation_still_open_runs_from_the_reopening_message():
    messages = [
        msg("q1", "inbound", T0),
        msg("cl", "outbound", T0 + 1 * H, "q1", kind="close"),
        msg("q2", "inbound", T0 + 50 * H, "q1"),
    ]
    target, _ = resolution_clock(messages, T0 + 51 * H)
    assert target.stopped_at_ms is None
    assert target.pauses == (Pause(T0 + 1 * H, T0 + 50 * H),)
    assert "conv:resolution" not in outcomes(messages, T0 + 51 * H)
    assert outcomes(messages, T0 + 73 * H)["conv:resolution"].deadline_ms == T0 + 73 * H


# ---- resolution: which rule ---------------------------------------------------------------


def test_resolution_is_judged_by_the_conversations_priority_and_tier():
    messages = [
        msg("q1", "inbound", T0, priority="P3"),
        msg("a1", "outbound", T0 + 5 * M, "q1"),
        msg("q2", "inbound", T0 + 10 * M, "a1", priority="P1"),
    ]
    target, rule = resolution_clock(messages, T0 + H)
    assert (target.priority, target.tier, rule.name) == ("P1", None, "p1")
    breach = outcomes(messages, T0 + 9 * H)["conv:resolution"]
    assert breach.event_type == "breached" and breach.deadline_ms == T0 + 8 * H

    messages[0]["tier"] = "gold"  # the tier of the first owed message; tier beats priority
    target, rule = resolution_clock(messages, T0 + H)
    assert (target.priority, target.tier, rule.name) == ("P1", "gold", "gold")


# ---- resolution: the agent's last word, and inactivity (72 h) ------------------------------


def test_answered_and_quiet_is_resolved_by_the_agents_last_word_at_once():
    messages = [
        msg("q1", "inbound", T0),
        msg("a1", "outbound", T0 + 10 * M, "q1"),
        msg("a2", "outbound", T0 + 15 * M, "a1"),  # a follow-up: the last word
    ]
    for now in (T0 + 30 * M, T0 + 25 * H, T0 + 80 * H):  # not breached while it is quiet
        target, _ = resolution_clock(messages, now)
        assert target.stopped_at_ms == T0 + 15 * M
        resolution = outcomes(messages, now)["conv:resolution"]
        assert resolution.event_type == "met" and resolution.elapsed_s == 15 * 60


def test_a_customer_who_writes_again_takes_the_stop_away_and_the_time_between_counts():
    messages = [
        msg("q1", "inbound", T0),
        msg("a1", "outbound", T0 + 10 * M, "q1"),
        msg("q2", "inbound", T0 + 20 * H, "a1"),  # "still not fixed"
        msg("a2", "outbound", T0 + 30 * H, "q2"),
    ]
    resolution = outcomes(messages, T0 + 31 * H)["conv:resolution"]
    assert resolution.event_type == "breached" and resolution.deadline_ms == T0 + 24 * H
    assert resolution_clock(messages, T0 + 31 * H)[0].stopped_at_ms == T0 + 30 * H


def test_a_conversation_the_agent_opened_owes_no_open_ended_resolution():
    messages = [msg("a1", "outbound", T0)]  # a proactive message nobody answered
    assert outcomes(messages, T0 + 30 * H)["conv:resolution"].event_type == "met"


def test_quiet_after_the_customers_last_word_runs_until_the_inactivity_resolved_it():
    messages = [
        msg("q1", "inbound", T0),
        msg("a1", "outbound", T0 + 10 * M, "q1"),
        msg("q2", "inbound", T0 + 20 * M, "a1"),
    ]
    target, _ = resolution_clock(messages, T0 + 80 * H)
    assert target.stopped_at_ms == T0 + 20 * M + 72 * H
    assert outcomes(messages, T0 + 80 * H)["conv:resolution"].event_type == "breached"


# ---- response clocks and the close --------------------------------------------------------


def test_a_close_stops_the_response_clocks_of_what_it_left_unanswered():
    messages = [
        msg("q1", "inbound", T0),
        msg("a1", "outbound", T0 + 20 * M, "q1"),
        msg("q2", "inbound", T0 + 25 * M, "a1"),  # "great, thanks"
        msg("cl", "outbound", T0 + 30 * M, "q2", kind="close"),
        msg("a2", "outbound", T0 + 3 * H, "q2"),  # after the close: it no longer decides
    ]
    met = outcomes(messages, T0 + 5 * H)["q2:next_response"]
    assert met.event_type == "met" and met.occurred_at_ms == T0 + 30 * M
    assert met.elapsed_s == 5 * 60


def test_a_late_close_is_a_late_stop_and_a_close_before_the_message_stops_nothing():
    messages = [
        msg("q1", "inbound", T0),
        msg("cl", "outbound", T0 + 10 * M, "q1", kind="close"),  # fulfils q1 in time
        msg("q2", "inbound", T0 + 20 * M, "q1"),  # reopens
        msg("cl2", "outbound", T0 + 3 * H, "q2", kind="close"),  # fulfils q2, late
    ]
    found = outcomes(messages, T0 + 5 * H)
    assert found["q1:first_response"].event_type == "met"
    assert found["q1:first_response"].occurred_at_ms == T0 + 10 * M
    assert found["q2:next_response"].event_type == "breached"
    assert found["q2:next_response"].deadline_ms == T0 + 80 * M


def test_an_answer_before_the_close_still_stops_the_clock():
    messages = [
        msg("q1", "inbound", T0),
        msg("a1", "outbound", T0 + 20 * M, "q1"),
        msg("cl", "outbound", T0 + 50 * M, "a1", kind="close"),
    ]
    met = outcomes(messages, T0 + 2 * H)["q1:first_response"]
    assert met.occurred_at_ms == T0 + 20 * M and met.elapsed_s == 20 * 60
