"""Too late (streams.rules.threading_lateness): a contact older than what its customer's
timeline still remembers is set aside with its reason, never threaded against what is left;
in event-time order nothing is ever too late, and what is kept is what order would give."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules.threading import DEFAULT_PARAMS
from streams.rules.threading_lateness import Horizon, TooLate, forgotten_after, split_late
from streams.rules.timeline import Message
from streams.stages.timeline import TimelineState, thread_timeline
from tests.support.thread_messages import DAY, HOUR, MINUTE, msg, timeline
from tests.support.timeline_records import SLA, T0, record

RETENTION_MS = 2 * DAY * MINUTE  # two days, more than every window of the threading rules
STEP_MS = 10 * HOUR * MINUTE  # steps over the generated span: about 8 days, four retentions
PUBLISHED = ("conversation_id", "duplicate_of", "owed_answer", "answered_by", "answered_at")


def same(m: Any) -> Any:
    return m


def contact(r: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = r["contact"]
    return c


def stage(
    order: Sequence[dict[str, Any]], retention_ms: int = RETENTION_MS
) -> tuple[dict[str, tuple], dict[str, TooLate]]:
    """The thread stage's step, one contact a step: what is too late set aside, the rest
    threaded by the stage's own step (streams.stages.timeline), which forgets what the
    retention lets go. Returns what each contact was last published as, and what was set
    aside."""
    state = TimelineState({}, 0, {})
    published: dict[str, tuple] = {}
    late: dict[str, TooLate] = {}
    for r in order:
        horizon = Horizon.of(
            state.messages, state.sla.get("forgotten"), retention_ms, DEFAULT_PARAMS
        )
        on_time, set_aside = split_late(horizon, [r], contact)
        late.update((x["contact"]["contact_id"], why) for x, why in set_aside)
        state, out = thread_timeline(state, on_time, DEFAULT_PARAMS, retention_ms, SLA)
        for key, rec in out.contacts:
            published[key.decode()] = tuple(rec[f] for f in PUBLISHED)
    return published, late


def in_order(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["contact"]["occurred_at"], r["contact"]["contact_id"]))


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One customer over about four retentions: questions, answers to an earlier message
    (explicit links reach back at most a day, as a support reply does), follow-ups, and
    messages close enough in time to continue a conversation without a link."""
    out: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 14))):
        at = T0 + draw(st.integers(0, 20)) * STEP_MS + draw(st.integers(0, 1)) * 3 * HOUR * MINUTE
        earlier = [
            r["contact"]["source_id"]
            for r in out
            if at - DAY * MINUTE <= r["contact"]["occurred_at"] <= at
        ]
        parent = draw(st.sampled_from([None, *earlier]))
        agent = parent is not None and draw(st.booleans())
        out.append(record(f"m{i:02d}", "outbound" if agent else "inbound", at, parent, f"text {i}"))
    return out


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from([RETENTION_MS, 6 * HOUR * MINUTE]))
def test_in_event_time_order_nothing_is_too_late(records: list[dict[str, Any]], retention) -> None:
    """Also with a retention shorter than the threading windows (a test setting)."""
    _, late = stage(in_order(records), retention)
    assert late == {}


@settings(max_examples=300, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_ordered_result_or_a_reason(records, rnd) -> None:
    shuffled = list(records)
    rnd.shuffle(shuffled)
    want, _ = stage(in_order(records))
    got, late = stage(shuffled)
    assert set(got) | set(late) == set(want)  # each contact placed or set aside, never lost
    for why in late.values():
        assert why.occurred_at < why.limit + RETENTION_MS
    # what a set-aside contact would have changed is its conversation's, in order: the rest
    # of the timeline is exactly what event-time order gives
    tainted = {want[c][0] for c in late}
    for contact_id, fields in got.items():
        if want[contact_id][0] not in tainted:
            assert fields == want[contact_id], contact_id


def test_forgotten_is_the_latest_end_of_what_was_dropped() -> None:
    assert forgotten_after(None, []) is None
    assert forgotten_after(None, [5, 9, 7]) == 9
    assert forgotten_after(12, [5, 9]) == 12


MONTH_MS = 30 * DAY * MINUTE


def horizon(*messages: Message, forgotten: int | None = None) -> Horizon:
    return Horizon.of(timeline(*messages), forgotten, MONTH_MS, DEFAULT_PARAMS)


def test_a_customer_writing_again_55_days_after_the_answer_sets_aside_what_comes_after() -> None:
    question = msg("q", 0)
    answer = msg("a", 2 * HOUR, agent=True, reply_to="q")
    again = msg("again", 55 * DAY)
    on_time, late = split_late(horizon(again), [question, answer], same)
    assert on_time == []
    (first, why), _ = late
    assert first is question and not why.forgotten
    assert why.limit == again["occurred_at"] - MONTH_MS
    assert why.reason.startswith("too late: occurred at 2025-10-09T08:53:20+00:00, before ")


def test_a_contact_within_reach_of_a_forgotten_conversation_is_too_late() -> None:
    """In the retention, but it could continue a conversation that ended an hour before it."""
    forgotten = msg("gone", 10 * DAY)["occurred_at"]
    near = msg("near", 10 * DAY + 60)
    why = horizon(msg("new", 35 * DAY), forgotten=forgotten).too_late(near)
    assert why is not None and why.forgotten and why.limit == forgotten
    assert "forgot" in why.reason
    assert horizon(msg("new", 35 * DAY), forgotten=forgotten).too_late(msg("far", 12 * DAY)) is None


def test_a_late_reply_to_a_conversation_still_held_is_placed() -> None:
    """Active over 40 days: the conversation that reaches the horizon is held whole."""
    messages = [msg(f"q{d}", d * DAY, reply_to=f"q{d - 5}" if d else None) for d in range(0, 41, 5)]
    late_answer = msg("a0", 2 * HOUR, agent=True, reply_to="q0")
    assert horizon(*messages, forgotten=0).too_late(late_answer) is None
    # the other way round: a message held answers the late one
    held_reply = [*messages, msg("a", 41 * DAY, agent=True, reply_to="early")]
    assert horizon(*held_reply, forgotten=0).too_late(msg("early", 1 * DAY)) is None


def test_a_redelivered_message_still_held_is_not_too_late() -> None:
    old = msg("old", 0, ref="chat-1")
    held = horizon(old, msg("new", 40 * DAY))
    assert held.too_late(old) is None
    assert isinstance(held.too_late(msg("other", 0)), TooLate)


def test_an_empty_timeline_takes_any_age_unless_it_forgot_what_the_contact_could_join() -> None:
    assert horizon().too_late(msg("ancient", -365 * DAY)) is None
    trimmed = horizon(forgotten=msg("gone", 0)["occurred_at"])  # emptied to fit in a record
    assert trimmed.too_late(msg("near", 60)) is not None
    assert trimmed.too_late(msg("far", 2 * DAY)) is None
