"""Threading rules, scenarios: the derived views as documents, their diffs, and eviction.
Times are minutes after T0.
"""

from __future__ import annotations

from streams.rules.threading import conversation_id, derive, evict
from streams.rules.timeline import add
from streams.rules.views import EMPTY, diff
from tests.support.thread_messages import DAY, ms, msg, timeline


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
