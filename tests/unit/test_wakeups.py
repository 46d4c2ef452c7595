"""The in-memory indexes of when customers' state needs another look."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.sla.wakeups import DueIndex, WakeIndex
from streams.stages.timeline import TimelineState


def test_due_keys_come_out_earliest_first_once() -> None:
    index = DueIndex()
    index.set(b"b", 20)
    index.set(b"a", 10)
    index.set(b"c", 30)
    assert index.pop_due(25, limit=10) == [b"a", b"b"]
    assert index.pop_due(25, limit=10) == []
    assert b"c" in index and len(index) == 1


def test_a_moved_or_removed_key_is_not_due_at_its_old_instant() -> None:
    index = DueIndex()
    index.set(b"moved", 10)
    index.set(b"moved", 50)
    index.set(b"gone", 5)
    index.set(b"gone", None)
    assert index.pop_due(40, limit=10) == []
    assert index.pop_due(50, limit=10) == [b"moved"]


def test_limit_leaves_the_rest_due_for_later() -> None:
    index = DueIndex()
    for i in range(5):
        index.set(bytes([i]), i)
    assert index.pop_due(10, limit=2) == [b"\x00", b"\x01"]
    assert index.pop_due(10, limit=10) == [b"\x02", b"\x03", b"\x04"]


@given(st.lists(st.tuples(st.integers(0, 20), st.one_of(st.none(), st.integers(0, 100)))))
def test_due_index_agrees_with_a_plain_dict(updates: list[tuple[int, int | None]]) -> None:
    index, model = DueIndex(), {}
    for key, instant in updates:
        index.set(bytes([key]), instant)
        if instant is None:
            model.pop(bytes([key]), None)
        else:
            model[bytes([key])] = instant
    due = index.pop_due(50, limit=1000)
    assert sorted(due) == sorted(k for k, at in model.items() if at <= 50)
    assert [model[k] for k in due] == sorted(model[k] for k in due)
    assert len(index) == sum(1 for at in model.values() if at > 50)


def test_wake_index_judges_live_by_wall_clock_and_replay_by_watermark() -> None:
    wakes = WakeIndex()
    wakes.set(b"live", (100, True))
    wakes.set(b"replay", (100, False))
    assert wakes.due(wall_ms=100, watermark_ms=0) == [b"live"]
    assert wakes.due(wall_ms=100, watermark_ms=100) == [b"replay"]
    wakes.set(b"switch", (100, True))
    wakes.set(b"switch", (200, False))  # became a replay: only the watermark wakes it
    assert wakes.due(wall_ms=10_000, watermark_ms=150) == []
    assert b"switch" in wakes and wakes.due(wall_ms=0, watermark_ms=200) == [b"switch"]


def test_a_timeline_expires_a_retention_after_its_newest_contact() -> None:
    assert TimelineState({}, 0).expires_at(1000) is None
    state = TimelineState({"a": {"occurred_at": 50}, "b": {"occurred_at": 20}}, 1)  # type: ignore[dict-item]
    assert state.expires_at(1000) == 1050
