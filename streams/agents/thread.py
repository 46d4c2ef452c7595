"""Thread stage: contacts.keyed -> contacts.enriched + conversations.

Each customer's timeline (every contact of one brand's customer) lives in a changelog-backed
table. A batch adds its contacts to the touched timelines, derives conversations, duplicates
and answers again from the whole set — so the result never depends on arrival order — and
publishes only what changed.

At-least-once: if the worker dies after the table's changelog was written but before the
outputs were, the replayed contacts are exact duplicates. A duplicate therefore re-publishes
the current state of its conversation: downstream writes are idempotent, so a repeat is
harmless and a loss is impossible.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.rules.threading import ThreadingParams, derive, evict
from streams.rules.timeline import Message, Timeline, add
from streams.rules.views import EMPTY, ContactView, ConversationView, Derived, diff

PRIORITY_ORDER = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


@dataclass
class Threaded:
    contacts: list[tuple[bytes, dict[str, Any]]] = field(default_factory=list)  # EnrichedContact
    # None: a tombstone (the conversation merged into another); revision rides in a header
    conversations: list[tuple[bytes, dict[str, Any] | None]] = field(default_factory=list)
    revision: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    evicted: int = 0
    answered: list[tuple[dict[str, Any], ContactView]] = field(default_factory=list)


@dataclass
class TimelineState:
    """What the table holds per (brand, customer): the messages and a revision counter."""

    messages: Timeline
    revision: int

    @classmethod
    def load(cls, raw: bytes | None) -> TimelineState:
        if not raw:
            return cls({}, 0)
        data = orjson.loads(raw)
        return cls(data["messages"], data["revision"])

    def dump(self) -> bytes:
        return orjson.dumps({"messages": self.messages, "revision": self.revision})


def flat_message(record: dict[str, Any]) -> Message:
    """An EnrichedContact flattened: the contact's fields beside its enrichment."""
    flat = dict(record["contact"])
    for key, value in record.items():
        if key != "contact":
            flat[key] = value
    return flat  # type: ignore[return-value]


def contact_record(message: Message, view: ContactView, revision: int, now_ms: int) -> dict:
    m: dict[str, Any] = dict(message)
    # "language" is in both: flattening let the detected one win, and both keep it.
    contact = {k: (m[k] if k == "language" else m.pop(k)) for k in CONTACT_FIELDS}
    m.update(
        contact=contact,
        conversation_id=view.conversation_id,
        duplicate_of=view.duplicate_of,
        owed_answer=view.owed,
        answered_by=view.answered_by,
        answered_at=view.answered_at,
        response_time_seconds=view.response_time_s,
        revision=revision,
        is_update=True,
        processed_at=now_ms,
    )
    return m


def conversation_record(
    view: ConversationView, messages: Timeline, revision: int, now_ms: int
) -> dict[str, Any]:
    stored: Mapping[str, Mapping[str, Any]] = messages  # enriched contacts, flattened
    customer = [stored[cid] for cid, _ in view.customer_messages if cid in stored]
    ranked = sorted(
        (str(m["priority"]) for m in customer if m.get("priority")),
        key=lambda p: PRIORITY_ORDER[p],
    )
    return {
        "conversation_id": view.conversation_id,
        "brand": view.brand,
        "channel": view.channel,
        "customer_id": view.customer_id,
        "tier": customer[0].get("tier") if customer else None,
        "priority": ranked[0] if ranked else None,
        "status": view.status,
        "opened_at": view.opened_at,
        "last_message_at": view.last_message_at,
        "closed_at": view.closed_at,
        "resolved_at": view.resolved_at,
        "reopen_count": view.reopen_count,
        "inbound_count": view.inbound_count,
        "outbound_count": view.outbound_count,
        "duplicate_count": view.duplicate_count,
        "owed_count": view.owed_count,
        "answered_count": view.answered_count,
        "first_response_seconds": view.first_response_s,
        "awaiting_answer": view.awaiting_answer,
        "awaiting_since": view.awaiting_since,
        "customer_messages": [
            {"contact_id": cid, "answered_by": by} for cid, by in view.customer_messages
        ],
        "revision": revision,
        "updated_at": now_ms,
    }


CONTACT_FIELDS = (
    "contact_id",
    "source",
    "source_id",
    "channel",
    "direction",
    "kind",
    "brand",
    "customer_handle",
    "customer_email",
    "conversation_ref",
    "in_reply_to",
    "references",
    "occurred_at",
    "received_at",
    "subject",
    "body",
    "language",
    "attributes",
)


def thread_timeline(
    state: TimelineState,
    records: Iterable[dict[str, Any]],
    params: ThreadingParams,
    retention_ms: int,
    now_ms: int,
) -> tuple[TimelineState, Threaded]:
    """Add a batch of one customer's contacts to their timeline; say what to publish."""
    out = Threaded()
    old_messages = state.messages
    messages = old_messages
    replayed: set[str] = set()
    first_seen: set[str] = set()
    for record in records:
        message = flat_message(record)
        messages, duplicate = add(messages, message)
        if duplicate:
            out.exact_duplicates += 1
            replayed.add(message["contact_id"])
        else:
            first_seen.add(message["contact_id"])
    if messages is old_messages and not replayed:
        return state, out

    before = derive(old_messages, params) if old_messages else EMPTY
    after = derive(messages, params) if messages is not old_messages else before
    changes = diff(before, after)
    revision = state.revision + 1 if messages is not old_messages else state.revision

    changed_contacts = {v.contact_id: v for v in changes.contacts}
    changed_conversations = {v.conversation_id: v for v in changes.conversations}
    _republish_replayed(after, replayed, changed_contacts, changed_conversations)

    for view in changed_contacts.values():
        record = contact_record(messages[view.contact_id], view, revision, now_ms)
        record["is_update"] = view.contact_id not in first_seen
        out.contacts.append((view.contact_id.encode(), record))
        if view.duplicate_of and view.contact_id in first_seen:
            out.near_duplicates += 1
        if (
            view.answered_by
            and before.contacts.get(view.contact_id, _UNANSWERED).answered_by is None
        ):
            out.answered.append((dict(messages[view.contact_id]), view))
    for conv in changed_conversations.values():
        out.conversations.append(
            (conv.conversation_id.encode(), conversation_record(conv, messages, revision, now_ms))
        )
    for conv_id in changes.removed_conversation_ids:
        out.conversations.append((conv_id.encode(), None))
    out.revision = revision

    times = [m["occurred_at"] for m in messages.values()]
    bound = max(times) - retention_ms
    kept = evict(messages, bound, params) if min(times) < bound else messages
    if kept is not messages:
        gone = messages.keys() - kept.keys()
        out.evicted = len({after.contacts[c].conversation_id for c in gone})
    return TimelineState(kept, revision), out


_UNANSWERED = ContactView("", "", None, False, None, None, None)


def _republish_replayed(
    derived: Derived,
    replayed: set[str],
    contacts: dict[str, ContactView],
    conversations: dict[str, ConversationView],
) -> None:
    """Add the whole conversation of every replayed contact to what gets published."""
    if not replayed:
        return
    conv_ids = {derived.contacts[c].conversation_id for c in replayed if c in derived.contacts}
    for view in derived.contacts.values():
        if view.conversation_id in conv_ids:
            contacts.setdefault(view.contact_id, view)
    for conv_id in conv_ids:
        conversations.setdefault(conv_id, derived.conversations[conv_id])


def group_by_key(
    items: Iterable[tuple[bytes, dict[str, Any]]],
) -> dict[bytes, list[dict[str, Any]]]:
    groups: dict[bytes, list[dict[str, Any]]] = {}
    for key, record in items:
        groups.setdefault(key, []).append(record)
    return groups


def now_ms(clock: Callable[[], float] = time.time) -> int:
    return int(clock() * 1000)
