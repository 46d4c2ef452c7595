"""Threading rules, scenarios: near duplicates (reposts) and exact redeliveries.
Times are minutes after T0.
"""

from __future__ import annotations

from streams.rules.fingerprint import fingerprint
from streams.rules.threading import conversation_id, derive
from streams.rules.timeline import Message, add
from tests.support.thread_messages import HOUR, groups, ms, msg, timeline


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
