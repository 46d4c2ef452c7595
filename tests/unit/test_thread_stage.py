"""The thread stage's step (thread_timeline): whatever the batches and their order, the
published state converges on the same records, and SLA events are published once."""

from __future__ import annotations

import random
import tracemalloc
import zlib

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sla.policy import parse_policy
from streams.stages.timeline import (
    ZSTD_MAGIC,
    SlaContext,
    Threaded,
    TimelineState,
    thread_timeline,
    within_size,
)
from tests.support.timeline_records import MIN, PARAMS, POLICY, RECORDS, SLA, T0, record


def run(batches: list[list[dict]], reload: bool = False) -> tuple[TimelineState, dict, dict]:
    """Step through the batches; ``reload``: each step starts from the stored bytes (a
    restart, a cache miss) rather than from the previous step's state and derivation."""
    state = TimelineState({}, 0, {})
    contacts: dict[str, dict] = {}
    events: dict[str, str] = {}
    for batch in batches:
        start = TimelineState.load(state.dump()) if reload else state
        state, out = thread_timeline(start, batch, PARAMS, 30 * 86_400_000, SLA)
        absorb(out, contacts, events)
    return state, contacts, events


def in_batches(order: list[dict], cuts: list[int]) -> list[list[dict]]:
    batches, i = [], 0
    for size in cuts:
        if i < len(order):
            batches.append(order[i : i + size])
            i += size
    return batches


def absorb(out: Threaded, contacts: dict, events: dict) -> None:
    for key, rec in out.contacts:  # a compacted topic / the ES doc: the last record wins
        contacts[key.decode()] = {
            k: v for k, v in rec.items() if k not in ("processed_at", "revision", "is_update")
        }
    for event in out.sla_events:  # the whole event, as the index keeps it, but when judged
        events[event["event_id"]] = {k: v for k, v in event.items() if k != "judged_at"}
    for event_id in out.sla_retractions:  # a tombstone on the topic, a delete in the index
        events.pop(event_id, None)


@settings(max_examples=60, deadline=None)
@given(st.permutations(RECORDS), st.lists(st.integers(1, 5), min_size=5, max_size=5))
def test_any_arrival_order_and_batching_converges(order: list[dict], cuts: list[int]) -> None:
    batches = in_batches(order, cuts)
    _, contacts, events = run(batches)
    _, want_contacts, want_events = run([RECORDS])
    assert contacts == want_contacts
    assert events == want_events


def test_answers_and_sla_outcomes() -> None:
    _, contacts, events = run([RECORDS])
    assert contacts["id-q1"]["answered_by"] == "id-a1"
    assert contacts["id-q1"]["sla"]["outcome"] == "met"
    assert contacts["id-q2"]["sla"]["outcome"] == "breached"  # answered after 160 minutes
    assert contacts["id-q3"]["sla"]["outcome"] == "breached"  # unanswered, watermark past it
    assert events["id-q2:next_response:outcome"]["event_type"] == "breached"


def test_redelivery_republishes_but_changes_nothing() -> None:
    state, contacts, _ = run([RECORDS])
    again, out = thread_timeline(state, RECORDS[:2], PARAMS, 30 * 86_400_000, SLA)
    assert out.exact_duplicates == 2
    assert again.messages == state.messages and again.revision == state.revision
    republished: dict[str, dict] = {}
    absorb(out, republished, {})
    assert republished and all(republished[k] == contacts[k] for k in republished)


def test_sla_events_are_published_once() -> None:
    state, _, _ = run([RECORDS])
    _, out = thread_timeline(state, [], PARAMS, 30 * 86_400_000, SLA)
    assert out.sla_events == [] and out.contacts == []


@settings(max_examples=30, deadline=None)
@given(st.permutations(RECORDS), st.lists(st.integers(1, 3), min_size=5, max_size=5))
def test_the_remembered_derivation_changes_nothing(order: list[dict], cuts: list[int]) -> None:
    batches = in_batches(order, cuts)
    batches.append(RECORDS[:1])  # and a redelivery
    cached, contacts, events = run(batches)
    reloaded, want_contacts, want_events = run(batches, reload=True)
    assert cached.derived is not None
    assert (cached.messages, cached.revision, cached.sla) == (
        reloaded.messages,
        reloaded.revision,
        reloaded.sla,
    )
    assert (contacts, events) == (want_contacts, want_events)


def test_a_stored_timeline_loads_whatever_format_wrote_it():
    """zstd now; zlib and plain JSON were written by earlier versions and still sit in
    changelogs: all three load to the same state."""
    state, _, _ = run([RECORDS])
    plain = orjson.dumps({"messages": state.messages, "revision": state.revision, "sla": state.sla})
    stored = state.dump()
    assert stored[:4] == ZSTD_MAGIC and len(stored) < len(plain)
    for raw in (stored, zlib.compress(plain, 1), plain):
        loaded = TimelineState.load(raw)
        assert (loaded.messages, loaded.revision, loaded.sla) == (
            state.messages, state.revision, state.sla,
        )  # fmt: skip
    assert TimelineState.load(None) == TimelineState({}, 0, {})


def test_a_stored_timeline_holds_no_more_memory_than_its_bytes():
    state, _, _ = run([RECORDS])
    tracemalloc.start()
    try:
        kept = [state.dump() for _ in range(100)]
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 1.5 * sum(map(len, kept)) + 20_000


def test_a_customer_turning_from_live_to_replay_keeps_what_the_wall_clock_judged() -> None:
    """A breach published on the wall clock stays when the customer's next message comes
    late (a relay's lag makes them a replay, judged by event time): their clock never goes
    back, so nothing is retracted."""
    policy = parse_policy(
        "version: 1\nrules:\n  - name: default\n"
        "    targets: {first_response: 1h, next_response: 1h, resolution: 72h}\n"
    )
    q1 = record("q1", "inbound", T0, None, "where is my parcel")
    q1["contact"]["received_at"] = T0 + 5000  # live
    q2 = record("q2", "inbound", T0 + 62 * MIN, "q1", "hello??")
    q2["contact"]["received_at"] = T0 + 77 * MIN  # 15 minutes late: a replay
    retention = 30 * 86_400_000

    def at(wall: int, watermark: int) -> SlaContext:
        return SlaContext(policy, lateness_ms=600_000, wall_ms=wall, watermark_ms=watermark)

    state, _ = thread_timeline(TimelineState({}, 0, {}), [q1], PARAMS, retention, at(T0, T0))
    state, tick = thread_timeline(state, [], PARAMS, retention, at(T0 + 61 * MIN, T0))
    assert [e["event_type"] for e in tick.sla_events if e["target"] == "first_response"] == [
        "warning",
        "breached",
    ]
    state, late = thread_timeline(state, [q2], PARAMS, retention, at(T0 + 77 * MIN, T0 + 52 * MIN))
    assert not state.sla["live"]
    assert late.sla_retractions == []
    assert state.sla["contacts"]["id-q1"]["outcome"] == "breached"


def test_a_timeline_too_large_for_kafka_drops_its_oldest_conversations_first() -> None:
    rng = random.Random(7)
    day = 24 * 60 * MIN
    posts = [  # one conversation each: two days apart, hard-to-compress bodies
        record(f"p{i}", "inbound", T0 + 2 * i * day, None, rng.randbytes(3000).hex())
        for i in range(8)
    ]
    sla = SlaContext(POLICY, lateness_ms=600_000, wall_ms=T0 + 10**10, watermark_ms=T0 + 20 * day)
    state, _ = thread_timeline(TimelineState({}, 0, {}), posts, PARAMS, 30 * day, sla)
    full = len(state.dump())

    smaller, value, dropped = within_size(state, PARAMS, max_bytes=full * 5 // 8)
    assert len(value) <= full * 5 // 8 and value == smaller.dump()
    assert 3 <= dropped < 8
    assert sorted(smaller.messages) == [f"id-p{i}" for i in range(dropped, 8)]  # the newest
    assert set(smaller.sla["contacts"]) == set(smaller.messages)
    assert within_size(state, PARAMS, max_bytes=full) == (state, state.dump(), 0)

    alone, _, dropped = within_size(state, PARAMS, max_bytes=2000)  # not even the newest fits
    assert (alone.messages, dropped) == ({}, 8)
