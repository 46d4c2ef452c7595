"""Threading rules, scenarios: which messages make one conversation, and its status over
time (closes, reopens, resolution by inactivity). Times are minutes after T0; response times
are in seconds.
"""

from __future__ import annotations

from streams.rules.threading import DEFAULT_PARAMS, ThreadingParams, conversation_id, derive
from streams.rules.timeline import add
from streams.rules.views import EMPTY, diff
from tests.support.thread_messages import DAY, HOUR, MINUTE, conv_of, groups, ms, msg, timeline


def test_tweet_thread_of_several_turns() -> None:
    d = derive(
        timeline(
            msg("t1", 0, text="my order never arrived, what is going on"),
            msg("r1", 30, agent=True, reply_to="t1"),
            msg("t2", 40, reply_to="r1", text="order 4521, ordered two weeks ago"),
            msg("r2", 100, agent=True, reply_to="t2"),
            msg("t3", 110, reply_to="r2", text="thanks, it says delivered but it is not here"),
        )
    )
    assert groups(d) == [{"t1", "r1", "t2", "r2", "t3"}]
    assert d.contacts["t1"].answered_by == "r1"
    assert d.contacts["t1"].response_time_s == 30 * 60
    assert d.contacts["t2"].answered_by == "r2"
    assert d.contacts["t2"].response_time_s == 60 * 60
    assert d.contacts["t3"].owed and d.contacts["t3"].answered_by is None
    conv = d.conversations[conversation_id("t1")]
    assert (conv.inbound_count, conv.outbound_count, conv.owed_count) == (3, 2, 3)
    assert conv.answered_count == 2
    assert conv.first_response_s == 30 * 60
    assert conv.awaiting_answer and conv.awaiting_since == ms(110)
    assert conv.customer_messages == (("t1", "r1"), ("t2", "r2"), ("t3", None))
    assert (conv.status, conv.opened_at, conv.last_message_at) == ("open", ms(0), ms(110))


def test_email_thread_via_references_spans_days() -> None:
    d = derive(
        timeline(
            msg("e1", 0, channel="email", text="I was charged twice for invoice 77"),
            msg("e2", 2 * DAY, agent=True, channel="email", reply_to="e1", references=("e1",)),
            # The customer's mail client keeps References but drops In-Reply-To.
            msg("e3", 5 * DAY, channel="email", references=("e1", "e2")),
            msg("e4", 5 * DAY + 90, agent=True, channel="email", references=("e1", "e2", "e3")),
        )
    )
    assert groups(d) == [{"e1", "e2", "e3", "e4"}]  # explicit links beat every window
    assert d.contacts["e1"].answered_by == "e2"
    assert d.contacts["e3"].answered_by == "e4"
    assert d.contacts["e3"].response_time_s == 90 * 60


def test_web_form_without_links_threads_by_channel_and_window() -> None:
    d = derive(
        timeline(
            msg("w1", 0, channel="web_form"),
            msg("p1", 60, channel="phone"),  # other channel: its own conversation
            msg("w2", 23 * HOUR, channel="web_form"),  # within 24h of w1
            msg("w3", 48 * HOUR, channel="web_form"),  # 25h after w2: new conversation
        )
    )
    assert groups(d) == [{"p1"}, {"w1", "w2"}, {"w3"}]


def test_thread_window_is_inclusive() -> None:
    params = ThreadingParams(thread_window_ms=HOUR * MINUTE)
    d = derive(timeline(msg("a", 0), msg("b", HOUR), msg("c", 2 * HOUR + 1)), params)
    assert groups(d) == [{"a", "b"}, {"c"}]


def test_reply_arriving_before_its_parent() -> None:
    parent = msg("t1", 0, text="the app crashes every time I open it")
    reply = msg("r1", 20, agent=True, reply_to="t1")
    early = timeline(reply)
    assert groups(derive(early)) == [{"r1"}]
    late = timeline(reply, parent)
    assert late == timeline(parent, reply)
    d = derive(late)
    assert groups(d) == [{"t1", "r1"}]
    assert d.contacts["t1"].answered_by == "r1"
    assert d.contacts["r1"].conversation_id == conversation_id("t1")


def test_reply_stamped_before_its_parent_clock_skew() -> None:
    d = derive(
        timeline(
            msg("r1", 10, agent=True, reply_to="t1"),
            msg("t1", 12, text="the app crashes every time I open it"),
        )
    )
    assert groups(d) == [{"t1", "r1"}]
    assert d.contacts["t1"].answered_by == "r1"
    assert d.contacts["t1"].response_time_s == 0  # clamped
    # The conversation is named after its earliest message, whoever wrote it.
    assert conv_of(d, "t1") == conversation_id("r1")


def test_close_and_reopen() -> None:
    tl = timeline(
        msg("c1", 0, channel="chat", ref="sess-1"),
        msg("a1", 5, agent=True, channel="chat", ref="sess-1"),
        msg("x1", 10, agent=True, close=True, channel="chat", ref="sess-1"),
    )
    conv = derive(tl).conversations[conversation_id("c1")]
    assert (conv.status, conv.closed_at, conv.reopen_count) == ("closed", ms(10), 0)
    assert conv.outbound_count == 1  # a close is not a message

    # A new chat session an hour later continues (and reopens) the closed conversation.
    tl, _ = add(tl, msg("c2", 70, channel="chat", ref="sess-2"))
    conv = derive(tl).conversations[conversation_id("c1")]
    assert (conv.status, conv.closed_at, conv.reopen_count) == ("open", None, 1)
    assert conv.awaiting_since == ms(70)

    tl, _ = add(tl, msg("x2", 80, agent=True, close=True, channel="chat", ref="sess-2"))
    conv = derive(tl).conversations[conversation_id("c1")]
    assert (conv.status, conv.closed_at, conv.reopen_count) == ("closed", ms(80), 1)
    assert conv.awaiting_answer  # closed without an answer: visible, not hidden


def test_close_in_the_same_session_before_a_late_customer_message() -> None:
    d = derive(
        timeline(
            msg("c1", 0, channel="chat", ref="s"),
            msg("x1", 10, agent=True, close=True, channel="chat", ref="s"),
            msg("c2", 11, channel="chat", ref="s"),
        )
    )
    conv = d.conversations[conversation_id("c1")]
    assert (conv.status, conv.reopen_count) == ("open", 1)


def test_resolution_by_inactivity() -> None:
    tl = timeline(msg("t1", 0), msg("a1", 30, agent=True, reply_to="t1"))
    conv_id = conversation_id("t1")
    at_3d = ms(30 + 3 * DAY)
    # open, and says when the quiet resolves it: a reader of a document not stepped since
    # can tell, as the gauges do
    now = derive(tl).conversations[conv_id]
    assert (now.status, now.resolves_at) == ("open", at_3d)
    assert derive(tl, now_ms=at_3d).conversations[conv_id].status == "open"
    later = derive(tl, now_ms=at_3d + 1).conversations[conv_id]
    assert (later.status, later.resolved_at, later.resolves_at) == ("resolved", at_3d, None)
    # A later message of the same customer shows the quiet too, without a clock.
    tl, _ = add(tl, msg("e1", 4 * DAY, channel="email"))
    d = derive(tl)
    assert (d.conversations[conv_id].status, d.conversations[conv_id].resolved_at) == (
        "resolved",
        at_3d,
    )
    assert d.conversations[conv_of(d, "e1")].status == "open"


def test_closed_stays_closed_when_quiet() -> None:
    tl = timeline(msg("t1", 0), msg("x1", 10, agent=True, close=True, reply_to="t1"))
    conv = derive(tl, now_ms=ms(10 * DAY)).conversations[conversation_id("t1")]
    assert (conv.status, conv.resolved_at, conv.resolves_at) == ("closed", None, None)


def test_late_earlier_message_renames_and_merges_conversations() -> None:
    tl = timeline(
        msg("t2", 30 * HOUR),
        msg("a2", 30 * HOUR + 5, agent=True, reply_to="t2"),
        msg("t3", 60 * HOUR),  # 30h after a2: its own conversation
    )
    old = derive(tl)
    assert groups(old) == [{"t2", "a2"}, {"t3"}]
    # Two late messages bridge the gaps: everything is now one conversation, named after t1.
    tl, _ = add(tl, msg("t1", 10 * HOUR))
    tl, _ = add(tl, msg("t4", 40 * HOUR))
    new = derive(tl)
    assert groups(new) == [{"t1", "t2", "a2", "t4", "t3"}]
    changes = diff(old, new)
    assert set(changes.removed_conversation_ids) == {conversation_id("t2"), conversation_id("t3")}
    assert [c.conversation_id for c in changes.conversations] == [conversation_id("t1")]
    assert {c.contact_id for c in changes.contacts} == {"t1", "t2", "a2", "t3", "t4"}


def test_conversation_ids_are_stable() -> None:
    # Indexed document ids: the namespace must never change.
    assert conversation_id("t1") == "22324bed-f130-50d2-ba5d-5c4e9c6aa37b"


def test_empty_timeline() -> None:
    assert derive({}) == EMPTY


def test_params_defaults_are_documented_values() -> None:
    p = DEFAULT_PARAMS
    assert (p.thread_window_ms, p.near_dup_window_ms, p.inactivity_ms) == (
        24 * HOUR * MINUTE,
        24 * HOUR * MINUTE,
        72 * HOUR * MINUTE,
    )
