"""Threading rules: scenarios first, then properties over random timelines.

Times in the scenarios are minutes after T0; response times are in seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules.fingerprint import fingerprint
from streams.rules.threading import (
    DEFAULT_PARAMS,
    ThreadingParams,
    conversation_id,
    derive,
    evict,
)
from streams.rules.timeline import Channel, Message, Timeline, add
from streams.rules.views import EMPTY, Derived, diff

T0 = 1_760_000_000_000
MINUTE = 60_000
HOUR = 60
DAY = 24 * HOUR


def ms(minutes: int) -> int:
    return T0 + minutes * MINUTE


def msg(
    cid: str,
    at: int,
    *,
    agent: bool = False,
    close: bool = False,
    channel: Channel = "social",
    ref: str | None = None,
    reply_to: str | None = None,
    references: tuple[str, ...] = (),
    text: str | None = None,
) -> Message:
    """A contact whose source_id is its contact_id; `at` in minutes after T0."""
    return {
        "contact_id": cid,
        "source": "test",
        "source_id": cid,
        "channel": channel,
        "direction": "outbound" if agent else "inbound",
        "kind": "close" if close else "message",
        "brand": "acme",
        "customer_id": "cust-1",
        "conversation_ref": ref,
        "in_reply_to": reply_to,
        "references": list(references),
        "occurred_at": ms(at),
        "fingerprint": None if text is None else fingerprint(text),
    }


def timeline(*messages: Message) -> Timeline:
    tl: Timeline = {}
    for m in messages:
        tl, _ = add(tl, m)
    return tl


def conv_of(d: Derived, cid: str) -> str:
    return d.contacts[cid].conversation_id


def groups(d: Derived) -> list[set[str]]:
    by_conv: dict[str, set[str]] = {}
    for v in d.contacts.values():
        by_conv.setdefault(v.conversation_id, set()).add(v.contact_id)
    return sorted(by_conv.values(), key=min)


# --- scenarios ---------------------------------------------------------------------------


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


def test_agent_reply_answers_only_its_ancestors() -> None:
    d = derive(
        timeline(
            msg("e1", 0, channel="email", text="question one about my invoice please"),
            msg("e2", 10, channel="email", text="separate question about my delivery address"),
            msg("a1", 20, agent=True, channel="email", reply_to="e2"),
        )
    )
    # e2 continues e1's conversation (same channel, within the window)...
    assert groups(d) == [{"e1", "e2", "a1"}]
    # ...but a reply that names its parent answers that parent only.
    assert d.contacts["e2"].answered_by == "a1"
    assert d.contacts["e1"].answered_by is None


def test_chat_without_reply_references() -> None:
    d = derive(
        timeline(
            msg("c1", 0, channel="chat", ref="sess-9"),
            msg("c2", 1, channel="chat", ref="sess-9"),
            msg("a1", 3, agent=True, channel="chat", ref="sess-9"),
            msg("c3", 4, channel="chat", ref="sess-9"),
            msg("a2", 4, agent=True, channel="chat", ref="sess-9"),  # same minute answers
            msg("c4", 5, channel="chat", ref="sess-9"),
        )
    )
    assert groups(d) == [{"c1", "c2", "a1", "c3", "a2", "c4"}]
    answers = {c: d.contacts[c].answered_by for c in ("c1", "c2", "c3", "c4")}
    assert answers == {"c1": "a1", "c2": "a1", "c3": "a2", "c4": None}
    assert d.contacts["c2"].response_time_s == 2 * 60
    assert d.contacts["c3"].response_time_s == 0


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


def test_unresolved_reference_falls_back_to_the_window() -> None:
    d = derive(
        timeline(
            msg("t1", 0),
            msg("t2", 30, reply_to="gone-long-ago"),
            msg("a1", 40, agent=True, reply_to="also-missing"),
        )
    )
    assert groups(d) == [{"t1", "t2", "a1"}]
    # a1's references resolve to nothing: it answers by conversation order.
    assert d.contacts["t1"].answered_by == "a1"
    assert d.contacts["t2"].answered_by == "a1"


def test_near_duplicate_on_another_channel() -> None:
    d = derive(
        timeline(
            msg("t1", 0, text="@acme My order 4521 never arrived!! https://t.co/x"),
            msg("e1", 2 * HOUR, channel="email", text="my order 4521 never arrived"),
            msg("w1", 25 * HOUR, channel="web_form", text="My order 4521 never arrived."),
        )
    )
    assert d.contacts["e1"].duplicate_of == "t1"
    # w1 is 25h after the tweet but 23h after the email: the chain leads to the original.
    assert d.contacts["w1"].duplicate_of == "t1"
    assert groups(d) == [{"t1", "e1", "w1"}]
    assert not d.contacts["e1"].owed and not d.contacts["w1"].owed
    conv = d.conversations[conversation_id("t1")]
    assert (conv.inbound_count, conv.duplicate_count, conv.owed_count) == (3, 2, 1)
    assert conv.channel == "social"


def test_repost_after_the_window_is_new() -> None:
    d = derive(
        timeline(
            msg("t1", 0, text="my order 4521 never arrived"),
            msg("t2", 24 * HOUR + 1, text="my order 4521 never arrived"),
        )
    )
    assert d.contacts["t2"].duplicate_of is None
    assert d.contacts["t2"].owed
    assert groups(d) == [{"t1"}, {"t2"}]


def test_agent_reply_to_a_repost_answers_the_original() -> None:
    d = derive(
        timeline(
            msg("t1", 0, text="my order 4521 never arrived"),
            msg("e1", 60, channel="email", text="My order 4521 never arrived"),
            msg("a1", 90, agent=True, channel="email", reply_to="e1"),
        )
    )
    assert d.contacts["e1"].duplicate_of == "t1"
    assert d.contacts["t1"].answered_by == "a1"
    assert d.contacts["t1"].response_time_s == 90 * 60


def test_too_short_post_is_never_a_duplicate() -> None:
    d = derive(timeline(msg("t1", 0, text="help!!"), msg("t2", 5, text="help!!")))
    assert fingerprint("help!!") is None
    assert d.contacts["t2"].duplicate_of is None
    assert d.contacts["t1"].owed and d.contacts["t2"].owed
    assert groups(d) == [{"t1", "t2"}]  # threaded by the window, both owed


def test_reply_is_never_a_duplicate() -> None:
    d = derive(
        timeline(
            msg("t1", 0, text="still waiting for my refund"),
            msg("a1", 10, agent=True, reply_to="t1"),
            msg("t2", 20, reply_to="a1", text="still waiting for my refund"),
            msg("t3", 30, channel="email", references=("x",), text="still waiting for my refund"),
        )
    )
    assert d.contacts["t2"].duplicate_of is None and d.contacts["t2"].owed
    assert d.contacts["t3"].duplicate_of is None and d.contacts["t3"].owed


def test_agent_text_is_never_a_duplicate() -> None:
    d = derive(
        timeline(
            msg("t1", 0, text="please send us your order number"),
            msg("a1", 10, agent=True, text="please send us your order number"),
        )
    )
    assert d.contacts["a1"].duplicate_of is None


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


def test_exact_redelivery() -> None:
    first = msg("t1", 0, text="my order never arrived at all")
    tl, dup = add({}, first)
    assert not dup
    redelivered: Message = {**first, "occurred_at": ms(99)}  # if it differs, the first wins
    again, dup = add(tl, redelivered)
    assert dup
    assert again is tl
    assert again["t1"]["occurred_at"] == ms(0)


def test_add_never_mutates_its_input() -> None:
    tl = timeline(msg("t1", 0))
    before = dict(tl)
    grown, dup = add(tl, msg("t2", 1))
    assert not dup and tl == before and set(grown) == {"t1", "t2"}


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


def test_diff_reports_only_what_changed() -> None:
    tl = timeline(msg("t1", 0), msg("t5", 5 * DAY))
    old = derive(tl)
    tl, _ = add(tl, msg("a5", 5 * DAY + 10, agent=True, reply_to="t5"))
    changes = diff(old, derive(tl))
    assert {c.contact_id for c in changes.contacts} == {"t5", "a5"}
    assert [c.conversation_id for c in changes.conversations] == [conversation_id("t5")]
    assert changes.removed_conversation_ids == ()
    assert not diff(derive(tl), derive(tl))
    assert len(diff(EMPTY, derive(tl)).contacts) == 3


def test_evict_drops_whole_conversations() -> None:
    tl = timeline(
        msg("t1", 0),
        msg("a1", 10, agent=True, reply_to="t1"),
        msg("t2", 3 * DAY),
        msg("a2", 3 * DAY + 5, agent=True, reply_to="t2"),
        msg("t3", 3 * DAY + 10),
    )
    kept = evict(tl, older_than_ms=ms(3 * DAY + 6))
    assert set(kept) == {"t2", "a2", "t3"}  # t2's conversation lasts until t3
    assert set(evict(tl, older_than_ms=ms(11))) == {"t2", "a2", "t3"}
    assert evict(tl, older_than_ms=ms(10)) is tl
    assert evict(tl, older_than_ms=ms(4 * DAY)) == {}


def test_views_as_documents() -> None:
    d = derive(timeline(msg("t1", 0), msg("a1", 1, agent=True, reply_to="t1")))
    conv = d.conversations[conversation_id("t1")].to_dict()
    assert conv["customer_messages"] == [{"contact_id": "t1", "answered_by": "a1"}]
    assert conv["first_response_s"] == 60.0
    assert d.contacts["a1"].to_dict() == {
        "contact_id": "a1",
        "conversation_id": conversation_id("t1"),
        "duplicate_of": None,
        "owed": False,
        "answered_by": None,
        "answered_at": None,
        "response_time_s": None,
    }


def test_conversation_ids_are_stable() -> None:
    # Indexed document ids: the namespace must never change.
    assert conversation_id("t1") == "22324bed-f130-50d2-ba5d-5c4e9c6aa37b"


def test_empty_timeline() -> None:
    assert derive({}) == EMPTY


# --- properties ----------------------------------------------------------------------------

MAX_MESSAGES = 12
# Strategies are built once: building them per draw costs more than the tests themselves.
_source_ref = st.integers(0, MAX_MESSAGES).map(lambda i: f"s{i}")  # s{n}.. resolve to nothing
_field: dict[str, st.SearchStrategy[Any]] = {
    "own_source_id": st.sampled_from([True, True, False]),  # False: collides with s0
    "channel": st.sampled_from(["social", "email", "chat"]),
    "direction": st.sampled_from(["inbound", "inbound", "outbound"]),
    "kind": st.sampled_from(["message"] * 6 + ["close"]),
    "conversation_ref": st.sampled_from([None, None, None, "r1", "r2"]),
    "in_reply_to": st.one_of(st.none(), st.none(), _source_ref),
    "references": st.lists(_source_ref, max_size=2),
    # 6h steps over four days cross every window; the odd millisecond makes ties and edges.
    "at": st.tuples(st.integers(0, 16), st.integers(0, 1)),
    "fingerprint": st.sampled_from([None, "fp-a", "fp-b"]),
}
_message_fields = st.fixed_dictionaries(_field)


@st.composite
def timelines(draw: st.DrawFn) -> list[Message]:
    """Messages of one customer with plenty of collisions: shared refs and source_ids, ties
    in time, windows crossed, references forward, backward, to itself and to nothing."""
    fields = draw(st.lists(_message_fields, min_size=1, max_size=MAX_MESSAGES))
    out: list[Message] = []
    for i, f in enumerate(fields):
        steps, odd_ms = f["at"]
        out.append(
            {
                "contact_id": f"c{i}",
                "source": "test",
                "source_id": f"s{i}" if f["own_source_id"] else "s0",
                "channel": f["channel"],
                "direction": f["direction"],
                "kind": f["kind"],
                "brand": "acme",
                "customer_id": "cust-1",
                "conversation_ref": f["conversation_ref"],
                "in_reply_to": f["in_reply_to"],
                "references": f["references"],
                "occurred_at": ms(steps * 6 * HOUR) + odd_ms,
                "fingerprint": f["fingerprint"],
            }
        )
    return out


def _answered_in_conversation_order(agent: Message, tl: Timeline) -> bool:
    source_ids = {m["source_id"] for m in tl.values() if m is not agent}
    refs = [agent["in_reply_to"], *agent["references"]]
    return not any(r in source_ids for r in refs if r is not None)


PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(st.data())
def test_any_arrival_order_derives_the_same(data: st.DataObject) -> None:
    messages = data.draw(timelines())
    arrivals = data.draw(st.permutations(messages))
    redelivered = data.draw(st.lists(st.sampled_from(messages), max_size=3))
    tl = timeline(*messages)
    shuffled = timeline(*arrivals, *redelivered)
    assert shuffled == tl
    assert derive(shuffled) == derive(tl)
    assert derive(shuffled, now_ms=ms(5 * DAY)) == derive(tl, now_ms=ms(5 * DAY))


@PROPERTY
@given(st.data())
def test_adding_a_message_twice_changes_nothing(data: st.DataObject) -> None:
    messages = data.draw(timelines())
    tl = timeline(*messages)
    again, dup = add(tl, data.draw(st.sampled_from(messages)))
    assert dup and again is tl
    assert derive(again) == derive(tl)


@PROPERTY
@given(timelines())
def test_each_owed_message_is_answered_at_most_once(messages: list[Message]) -> None:
    tl = timeline(*messages)
    d = derive(tl)
    listed = Counter(cid for conv in d.conversations.values() for cid, _ in conv.customer_messages)
    for view in d.contacts.values():
        m = tl[view.contact_id]
        assert view.owed == (
            m["direction"] == "inbound" and m["kind"] == "message" and view.duplicate_of is None
        )
        assert listed[view.contact_id] == (1 if view.owed else 0)
        if view.answered_by is None:
            assert view.answered_at is None and view.response_time_s is None
            continue
        assert view.owed
        agent = tl[view.answered_by]
        assert agent["direction"] == "outbound" and agent["kind"] == "message"
        assert agent["occurred_at"] == view.answered_at
        assert view.response_time_s is not None and view.response_time_s >= 0
        assert d.contacts[agent["contact_id"]].conversation_id == view.conversation_id
        if _answered_in_conversation_order(agent, tl):
            assert view.answered_at >= m["occurred_at"]
    for conv in d.conversations.values():
        answered = sum(1 for _, by in conv.customer_messages if by is not None)
        assert conv.answered_count == answered <= conv.owed_count


@PROPERTY
@given(timelines())
def test_every_message_is_in_exactly_one_conversation(messages: list[Message]) -> None:
    tl = timeline(*messages)
    d = derive(tl)
    assert set(d.contacts) == set(tl)
    by_conv: dict[str, list[Message]] = {}
    for view in d.contacts.values():
        by_conv.setdefault(view.conversation_id, []).append(tl[view.contact_id])
    assert set(by_conv) == set(d.conversations)
    for conv_id, members in by_conv.items():
        conv = d.conversations[conv_id]
        first = min(members, key=lambda m: (m["occurred_at"], m["contact_id"]))
        assert conv_id == conversation_id(first["contact_id"])
        assert conv.opened_at == first["occurred_at"]
        assert conv.last_message_at == max(m["occurred_at"] for m in members)
        kinds = Counter((m["direction"], m["kind"]) for m in members)
        assert conv.inbound_count == kinds["inbound", "message"]
        assert conv.outbound_count == kinds["outbound", "message"]


@PROPERTY
@given(timelines())
def test_explicit_links_share_a_conversation(messages: list[Message]) -> None:
    tl = timeline(*messages)
    d = derive(tl)
    by_source_id: dict[str, list[str]] = {}
    for m in tl.values():
        by_source_id.setdefault(m["source_id"], []).append(m["contact_id"])
    for m in tl.values():
        here = conv_of(d, m["contact_id"])
        for ref in [m["in_reply_to"], *m["references"]]:
            for other in by_source_id.get(ref or "", []):
                assert conv_of(d, other) == here
        for peer in tl.values():
            if m["conversation_ref"] and peer["conversation_ref"] == m["conversation_ref"]:
                assert conv_of(d, peer["contact_id"]) == here


@PROPERTY
@given(timelines())
def test_near_duplicates_point_to_an_earlier_original(messages: list[Message]) -> None:
    tl = timeline(*messages)
    d = derive(tl)
    for view in d.contacts.values():
        if view.duplicate_of is None:
            continue
        dup, original = tl[view.contact_id], tl[view.duplicate_of]
        assert d.contacts[view.duplicate_of].duplicate_of is None
        assert dup["fingerprint"] == original["fingerprint"] is not None
        assert (original["occurred_at"], original["contact_id"]) < (
            dup["occurred_at"],
            dup["contact_id"],
        )
        assert dup["in_reply_to"] is None and not dup["references"]
        assert view.conversation_id == conv_of(d, view.duplicate_of)


@PROPERTY
@given(timelines(), st.integers(0, 16 * 6 * HOUR + 1))
def test_evict_keeps_whole_conversations_that_derive_as_before(
    messages: list[Message], bound_minutes: int
) -> None:
    tl = timeline(*messages)
    before = derive(tl, now_ms=ms(5 * DAY))
    kept = evict(tl, ms(bound_minutes))
    after = derive(kept, now_ms=ms(5 * DAY))
    for conv_id, conv in before.conversations.items():
        if conv.last_message_at < ms(bound_minutes):
            assert conv_id not in after.conversations
        else:
            assert after.conversations[conv_id] == conv
    assert after.contacts == {k: v for k, v in before.contacts.items() if k in kept}


@PROPERTY
@given(st.data())
def test_diff_brings_old_views_up_to_date(data: st.DataObject) -> None:
    messages = data.draw(timelines())
    split = data.draw(st.integers(0, len(messages)))
    old = derive(timeline(*messages[:split]))
    new = derive(timeline(*messages))
    changes = diff(old, new)
    contacts = {**old.contacts, **{v.contact_id: v for v in changes.contacts}}
    conversations = {**old.conversations, **{v.conversation_id: v for v in changes.conversations}}
    for removed in changes.removed_conversation_ids:
        del conversations[removed]
    assert contacts == new.contacts
    assert conversations == new.conversations


def _naive(
    tl: Timeline, params: ThreadingParams = DEFAULT_PARAMS
) -> dict[str, tuple[str, str | None, str | None]]:
    """The rules transcribed plainly, quadratic scans and all: contact_id ->
    (conversation key, duplicate_of, answered_by). derive() must agree with it."""

    def key(m: Message) -> tuple[int, str]:
        return m["occurred_at"], m["contact_id"]

    order = sorted(tl.values(), key=key)

    def parents(x: Message) -> list[Message]:
        refs = {x["in_reply_to"], *x["references"]}
        return [p for p in order if p is not x and p["source_id"] in refs]

    def linked(a: Message, b: Message) -> bool:
        ref = a["conversation_ref"]
        return (
            b in parents(a) or a in parents(b) or (ref is not None and ref == b["conversation_ref"])
        )

    component = {m["contact_id"]: {m["contact_id"]} for m in order}
    for a in order:
        for b in order:
            ca, cb = component[a["contact_id"]], component[b["contact_id"]]
            if ca is not cb and linked(a, b):
                for cid in cb:
                    ca.add(cid)
                    component[cid] = ca

    conv: dict[str, str] = {}
    dup: dict[str, str] = {}
    for head in order:
        if head["contact_id"] in conv:
            continue
        earlier = [m for m in order if key(m) < key(head)]
        target = None
        if (
            head["direction"] == "inbound"
            and head["kind"] == "message"
            and head["in_reply_to"] is None
            and not head["references"]
            and head["fingerprint"] is not None
        ):
            same = [
                q
                for q in earlier
                if q["direction"] == "inbound"
                and q["kind"] == "message"
                and q["fingerprint"] == head["fingerprint"]
            ]
            if same and head["occurred_at"] - same[-1]["occurred_at"] <= params.near_dup_window_ms:
                original = dup.get(same[-1]["contact_id"], same[-1]["contact_id"])
                dup[head["contact_id"]] = original
                target = conv[original]
        if target is None:
            on_channel = [q for q in earlier if q["channel"] == head["channel"]]
            if on_channel and head["occurred_at"] - on_channel[-1]["occurred_at"] <= (
                params.thread_window_ms
            ):
                target = conv[on_channel[-1]["contact_id"]]
        for cid in component[head["contact_id"]]:
            conv[cid] = target or head["contact_id"]

    owed = {
        m["contact_id"]
        for m in order
        if m["direction"] == "inbound" and m["kind"] == "message" and m["contact_id"] not in dup
    }
    answer: dict[str, str] = {}
    for agent in order:
        if agent["direction"] != "outbound" or agent["kind"] != "message":
            continue
        if parents(agent):
            seen: set[str] = set()
            stack = parents(agent)
            while stack:
                x = stack.pop()
                if x["contact_id"] in seen:
                    continue
                seen.add(x["contact_id"])
                stack += parents(x)
                if x["contact_id"] in dup:
                    stack.append(tl[dup[x["contact_id"]]])
            answered = [m for m in order if m["contact_id"] in seen]
        else:
            answered = [
                m
                for m in order
                if conv[m["contact_id"]] == conv[agent["contact_id"]]
                and m["occurred_at"] <= agent["occurred_at"]
            ]
        for m in answered:
            if m["contact_id"] in owed:
                answer.setdefault(m["contact_id"], agent["contact_id"])
    return {cid: (conv[cid], dup.get(cid), answer.get(cid)) for cid in tl}


@PROPERTY
@given(timelines())
def test_derive_agrees_with_the_rules_transcribed_plainly(messages: list[Message]) -> None:
    tl = timeline(*messages)
    d = derive(tl)
    expected = {cid: (conversation_id(key), dup, by) for cid, (key, dup, by) in _naive(tl).items()}
    actual = {
        cid: (v.conversation_id, v.duplicate_of, v.answered_by) for cid, v in d.contacts.items()
    }
    assert actual == expected


def test_params_defaults_are_documented_values() -> None:
    p = DEFAULT_PARAMS
    assert (p.thread_window_ms, p.near_dup_window_ms, p.inactivity_ms) == (
        24 * HOUR * MINUTE,
        24 * HOUR * MINUTE,
        72 * HOUR * MINUTE,
    )
