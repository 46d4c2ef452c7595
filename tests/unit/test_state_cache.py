"""The parsed-timeline cache: used only for the exact value the table holds, and bounded."""

from __future__ import annotations

from streams.stages.timeline import TimelineState
from streams.stages.timeline_cache import TimelineCache


def state(n: int, revision: int = 1) -> TimelineState:
    return TimelineState({f"c{i}": {"occurred_at": i} for i in range(n)}, revision)  # type: ignore[misc]


def test_a_kept_state_is_returned_for_the_same_stored_value_only() -> None:
    cache = TimelineCache(max_messages=100)
    kept = state(3)
    value = kept.dump()
    cache.keep(b"k", value, kept)
    assert cache.load(b"k", value) is kept
    assert cache.load(b"k", bytes(value)) is kept  # equal bytes (a store that copies)
    other = state(4, revision=2)
    fresh = cache.load(b"k", other.dump())  # the table moved on: parse what it holds
    assert fresh is not kept and fresh.messages == other.messages
    assert cache.load(b"k", None).messages == {}


def test_least_recently_used_states_go_beyond_the_message_budget() -> None:
    cache = TimelineCache(max_messages=10)
    states = {key: state(4) for key in (b"a", b"b", b"c")}
    values = {key: s.dump() for key, s in states.items()}
    cache.keep(b"a", values[b"a"], states[b"a"])
    cache.keep(b"b", values[b"b"], states[b"b"])
    assert cache.load(b"a", values[b"a"]) is states[b"a"]  # a is now the most recent
    cache.keep(b"c", values[b"c"], states[b"c"])  # 12 messages > 10: b goes
    assert len(cache) == 2
    assert cache.load(b"b", values[b"b"]) is not states[b"b"]
    assert cache.load(b"a", values[b"a"]) is states[b"a"]
    cache.forget(b"a")  # deleted from the table
    assert len(cache) == 1
    cache.keep(b"huge", state(11).dump(), state(11))  # larger than the budget: not kept
    assert len(cache) == 1
