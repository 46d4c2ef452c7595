"""Threading rules, scenarios: which agent message answers which customer message.
Times are minutes after T0; response times are in seconds.
"""

from __future__ import annotations

from streams.rules.threading import derive
from tests.support.thread_messages import groups, msg, timeline


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
