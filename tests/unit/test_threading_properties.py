"""Threading rules: properties over random timelines, and agreement with a plain transcription
of the rules.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules.threading import DEFAULT_PARAMS, ThreadingParams, conversation_id, derive, evict
from streams.rules.timeline import Message, Timeline, add
from streams.rules.views import diff
from tests.support.thread_messages import DAY, HOUR, conv_of, ms, timeline

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
