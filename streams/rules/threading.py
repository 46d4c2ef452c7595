"""Threading: a customer's timeline -> conversations, near-duplicates, answers and status.

derive() is a pure function of the *set* of messages: everything is decided in the order
(occurred_at, contact_id), never in arrival order, so replays, redeliveries and late
messages end in the same answer.

How a message finds its conversation:
  a. explicit links (in_reply_to, references, a shared conversation_ref) tie messages into
     components, whichever came first;
  b. components are placed in the order of their earliest member, which decides for all:
     a near-duplicate of an earlier customer post goes to the original's conversation;
     otherwise the component continues the conversation of the latest earlier message on
     its channel if that is within the thread window; otherwise it opens a conversation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from streams.rules.answers import assign as assign_answers
from streams.rules.timeline import Message, Timeline
from streams.rules.views import ContactView, ConversationView, Derived, Status

HOUR_MS = 3_600_000

#: conversation_id = uuid5(CONVERSATION_NAMESPACE, contact_id of its earliest message).
#: Never change it: conversation documents are indexed under these ids.
CONVERSATION_NAMESPACE = uuid.UUID("5b0f3c1e-8d47-4c6a-9a53-2f1e0d6b7a91")


@dataclass(frozen=True, slots=True)
class ThreadingParams:
    """Time windows of the threading rules, in milliseconds of event time."""

    #: A message with no explicit link continues its channel's latest conversation if that
    #: conversation's latest message on the channel is at most this much older.
    thread_window_ms: int = 24 * HOUR_MS
    #: A new customer post repeating (same fingerprint) a customer message at most this much
    #: older is a near-duplicate of it.
    near_dup_window_ms: int = 24 * HOUR_MS
    #: A conversation quiet for longer than this is resolved.
    inactivity_ms: int = 72 * HOUR_MS


DEFAULT_PARAMS = ThreadingParams()


def conversation_id(first_contact_id: str) -> str:
    return str(uuid.uuid5(CONVERSATION_NAMESPACE, first_contact_id))


@dataclass(frozen=True, slots=True)
class Threads:
    """Conversations of a timeline, before answers. Conversations are keyed by the
    contact_id of their earliest message; every list is in (occurred_at, contact_id) order."""

    order: list[Message]
    parents: dict[str, list[Message]]  # contact_id -> explicit parents found in the timeline
    conversation_of: dict[str, str]  # contact_id -> conversation key
    duplicate_of: dict[str, str]  # near-duplicate contact_id -> original contact_id
    members: dict[str, list[Message]]  # conversation key -> its messages


def thread(timeline: Mapping[str, Message], params: ThreadingParams = DEFAULT_PARAMS) -> Threads:
    """Rules a and b: group the timeline into conversations and find near-duplicates."""
    order = sorted(timeline.values(), key=lambda m: (m["occurred_at"], m["contact_id"]))
    parents = _explicit_parents(order)
    root = _explicit_components(order, parents)

    conversation_of: dict[str, str] = {}
    duplicate_of: dict[str, str] = {}
    members: dict[str, list[Message]] = {}
    placed: dict[str, str] = {}  # component root -> conversation key
    last_on_channel: dict[str, Message] = {}
    last_with_fingerprint: dict[str, Message] = {}
    for m in order:
        cid = m["contact_id"]
        component = root[cid]
        key = placed.get(component)
        if key is None:
            # m is the component's earliest member. Every earlier message is in a component
            # placed already, so the indexes below describe exactly the messages before m.
            key = cid
            original = _near_duplicate_original(m, last_with_fingerprint, duplicate_of, params)
            if original is not None:
                duplicate_of[cid] = original
                key = conversation_of[original]
            else:
                previous = last_on_channel.get(m["channel"])
                if (
                    previous is not None
                    and m["occurred_at"] - previous["occurred_at"] <= params.thread_window_ms
                ):
                    key = conversation_of[previous["contact_id"]]
            placed[component] = key
        conversation_of[cid] = key
        if key in members:
            members[key].append(m)
        else:
            members[key] = [m]
        last_on_channel[m["channel"]] = m
        if m["direction"] == "inbound" and m["kind"] == "message" and m["fingerprint"] is not None:
            last_with_fingerprint[m["fingerprint"]] = m
    return Threads(order, parents, conversation_of, duplicate_of, members)


def _explicit_parents(order: list[Message]) -> dict[str, list[Message]]:
    """in_reply_to and references resolved by source_id; unresolved ones are dropped.

    source_ids are unique per source only, so a reference resolves to every message of the
    timeline with that source_id (a collision across sources within one customer is rare).
    """
    by_source_id: dict[str, list[Message]] = {}
    for m in order:
        by_source_id.setdefault(m["source_id"], []).append(m)
    parents: dict[str, list[Message]] = {}
    for m in order:
        found: list[Message] = []
        reply_to = m["in_reply_to"]
        if reply_to is not None and reply_to in by_source_id:
            found.extend(p for p in by_source_id[reply_to] if p is not m)
        for ref in m["references"]:
            if ref in by_source_id and ref != reply_to:
                found.extend(p for p in by_source_id[ref] if p is not m)
        if found:
            parents[m["contact_id"]] = found
    return parents


def _explicit_components(
    order: list[Message], parents: Mapping[str, list[Message]]
) -> dict[str, str]:
    """Union-find over explicit links: contact_id -> a representative of its component."""
    up: dict[str, str] = {m["contact_id"]: m["contact_id"] for m in order}

    def find(x: str) -> str:
        while up[x] != x:
            up[x] = up[up[x]]  # path halving
            x = up[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            up[rb] = ra

    first_with_ref: dict[str, str] = {}
    for m in order:
        cid = m["contact_id"]
        for p in parents.get(cid, ()):
            union(p["contact_id"], cid)
        ref = m["conversation_ref"]
        if ref is not None:
            union(first_with_ref.setdefault(ref, cid), cid)
    return {cid: find(cid) for cid in up}


def _near_duplicate_original(
    m: Message,
    last_with_fingerprint: Mapping[str, Message],
    duplicate_of: Mapping[str, str],
    params: ThreadingParams,
) -> str | None:
    """The original m repeats, if m is a new customer post repeating a recent customer message.

    Replies (in_reply_to or references set) are never near-duplicates: "still broken" in
    a thread is a turn of that thread. The latest earlier message with the fingerprint
    decides, so reposts chain: each within the window of the one before, all pointing to
    the first.
    """
    fp = m["fingerprint"]
    if (
        fp is None
        or m["direction"] != "inbound"
        or m["kind"] != "message"
        or m["in_reply_to"] is not None
        or m["references"]
    ):
        return None
    earlier = last_with_fingerprint.get(fp)
    if earlier is None or m["occurred_at"] - earlier["occurred_at"] > params.near_dup_window_ms:
        return None
    return duplicate_of.get(earlier["contact_id"], earlier["contact_id"])


def derive(
    timeline: Mapping[str, Message],
    params: ThreadingParams = DEFAULT_PARAMS,
    now_ms: int | None = None,
) -> Derived:
    """Every contact's and conversation's view for one customer's timeline.

    now_ms (a watermark, supplied by the caller) only lets quiet conversations resolve
    before a later message shows they went quiet.
    """
    if not timeline:
        return Derived(contacts={}, conversations={})
    threads = thread(timeline, params)
    duplicate_of = threads.duplicate_of
    owed = {
        m["contact_id"]
        for m in threads.order
        if m["direction"] == "inbound"
        and m["kind"] == "message"
        and m["contact_id"] not in duplicate_of
    }
    answered = assign_answers(
        threads.order,
        timeline,
        threads.parents,
        threads.members,
        threads.conversation_of,
        duplicate_of,
        owed,
    )
    latest = threads.order[-1]["occurred_at"]

    contacts: dict[str, ContactView] = {}
    conversations: dict[str, ConversationView] = {}
    for key, msgs in threads.members.items():
        conv_id = conversation_id(key)
        for m in msgs:
            cid = m["contact_id"]
            agent = answered.get(cid)
            at = None if agent is None else agent["occurred_at"]
            contacts[cid] = ContactView(
                contact_id=cid,
                conversation_id=conv_id,
                duplicate_of=duplicate_of.get(cid),
                owed=cid in owed,
                answered_by=None if agent is None else agent["contact_id"],
                answered_at=at,
                response_time_s=None if at is None else max(0, at - m["occurred_at"]) / 1000,
            )
        conversations[conv_id] = _conversation(conv_id, msgs, contacts, params, latest, now_ms)
    return Derived(contacts=contacts, conversations=conversations)


def _conversation(
    conv_id: str,
    msgs: list[Message],
    contacts: Mapping[str, ContactView],
    params: ThreadingParams,
    latest: int,
    now_ms: int | None,
) -> ConversationView:
    """Rule d and the counts, from a conversation's messages in order."""
    first = msgs[0]
    closed_at: int | None = None
    reopen_count = inbound = outbound = duplicates = 0
    owed: list[ContactView] = []
    awaiting_since: int | None = None
    for m in msgs:
        if m["kind"] == "close":
            if closed_at is None:
                closed_at = m["occurred_at"]
            continue
        if m["direction"] == "outbound":
            outbound += 1
            continue
        inbound += 1
        if closed_at is not None:  # any later customer message reopens, a repost too
            reopen_count += 1
            closed_at = None
        view = contacts[m["contact_id"]]
        if view.duplicate_of is not None:
            duplicates += 1
        elif view.owed:
            owed.append(view)
            if view.answered_by is None and awaiting_since is None:
                awaiting_since = m["occurred_at"]
    last = msgs[-1]["occurred_at"]
    status: Status = "open"
    resolved_at: int | None = None
    if closed_at is not None:
        status = "closed"
    elif latest - last > params.inactivity_ms or (
        now_ms is not None and now_ms - last > params.inactivity_ms
    ):
        status, resolved_at = "resolved", last + params.inactivity_ms
    return ConversationView(
        conversation_id=conv_id,
        brand=first["brand"],
        customer_id=first["customer_id"],
        channel=first["channel"],
        opened_at=first["occurred_at"],
        last_message_at=last,
        status=status,
        closed_at=closed_at,
        resolved_at=resolved_at,
        resolves_at=last + params.inactivity_ms if status == "open" else None,
        reopen_count=reopen_count,
        inbound_count=inbound,
        outbound_count=outbound,
        duplicate_count=duplicates,
        owed_count=len(owed),
        answered_count=sum(1 for v in owed if v.answered_by is not None),
        first_response_s=owed[0].response_time_s if owed else None,
        awaiting_answer=awaiting_since is not None,
        awaiting_since=awaiting_since,
        customer_messages=tuple((v.contact_id, v.answered_by) for v in owed),
    )


def evict(
    timeline: Timeline,
    older_than_ms: int,
    params: ThreadingParams = DEFAULT_PARAMS,
) -> Timeline:
    """Drop whole conversations whose last message occurred before older_than_ms.

    A conversation goes entirely or not at all, and what stays derives as before: explicit
    links, near-duplicates and the thread window only tie a message to earlier ones of its
    own conversation. Returns the input itself when nothing is old enough (the caller can
    skip writing back), else a new dict. Evicting is forgetting, not a change to write: do
    not diff a derivation across it.
    """
    threads = thread(timeline, params)
    kept: Timeline = {}
    for msgs in threads.members.values():
        if msgs[-1]["occurred_at"] >= older_than_ms:
            for m in msgs:
                kept[m["contact_id"]] = m
    if len(kept) == len(timeline):
        return timeline
    return kept
