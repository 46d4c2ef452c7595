"""What threading derives for a customer, and the difference between two derivations.

Views are frozen and compare with ==, so an agent can diff the derivation before and after a
batch and write only what changed; to_dict() is the document to index.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, TypeAlias

Status: TypeAlias = Literal["open", "closed", "resolved"]


def _plain(view: Any) -> dict[str, Any]:
    return {f.name: getattr(view, f.name) for f in fields(view)}


@dataclass(frozen=True, slots=True)
class ContactView:
    """One contact's place: its conversation, and for a customer message its answer."""

    contact_id: str
    conversation_id: str
    duplicate_of: str | None  # contact_id of the original this near-duplicate repeats
    owed: bool  # a customer message that wants an answer (inbound, not a duplicate)
    answered_by: str | None  # contact_id of the agent message that answered it first
    answered_at: int | None  # epoch millis, event time of that answer
    response_time_s: float | None  # answered_at - occurred_at, >= 0

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True, slots=True)
class ConversationView:
    """One conversation, summarised for indexing and SLA timing."""

    conversation_id: str
    brand: str
    customer_id: str
    channel: str  # of its first message
    opened_at: int  # epoch millis of its first message
    last_message_at: int  # epoch millis of its last contact (a close event counts)
    status: Status
    closed_at: int | None  # set when status is 'closed'
    resolved_at: int | None  # set when status is 'resolved': last_message_at + inactivity
    # set when status is 'open': when the quiet will resolve it. Its document still says open
    # then, until the customer is next stepped: a reader compares this with the clock.
    resolves_at: int | None
    reopen_count: int
    inbound_count: int  # customer messages, duplicates included
    outbound_count: int  # agent messages (close events are not messages)
    duplicate_count: int
    owed_count: int
    answered_count: int
    first_response_s: float | None  # response time of the first owed message, if answered
    awaiting_answer: bool  # some owed message is still unanswered
    awaiting_since: int | None  # occurred_at of the oldest unanswered owed message
    customer_messages: tuple[tuple[str, str | None], ...]  # owed (contact_id, answered_by)

    def to_dict(self) -> dict[str, Any]:
        doc = _plain(self)
        doc["customer_messages"] = [
            {"contact_id": cid, "answered_by": by} for cid, by in self.customer_messages
        ]
        return doc


@dataclass(frozen=True, slots=True)
class Derived:
    """The whole truth for one customer: every contact and every conversation, by id."""

    contacts: dict[str, ContactView]
    conversations: dict[str, ConversationView]


@dataclass(frozen=True, slots=True)
class Changes:
    """What to write after a batch: new or changed views, and conversations that are gone.

    A conversation id disappears when a late message merges two conversations or becomes
    a conversation's new earliest message; its contacts then reappear in `contacts` with
    their new conversation_id, and the old conversation document should be deleted.
    """

    contacts: tuple[ContactView, ...]
    conversations: tuple[ConversationView, ...]
    removed_conversation_ids: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.contacts or self.conversations or self.removed_conversation_ids)


EMPTY = Derived(contacts={}, conversations={})


def diff(old: Derived, new: Derived) -> Changes:
    """Views in `new` that are not in `old` as they are, and conversation ids `new` lost.

    Contacts are never reported removed: a timeline only loses contacts by evict(), which
    is forgetting, not a change to write (do not diff across an evict()).
    """
    old_contacts, old_conversations = old.contacts, old.conversations
    return Changes(
        contacts=tuple(v for k, v in new.contacts.items() if old_contacts.get(k) != v),
        conversations=tuple(
            v for k, v in new.conversations.items() if old_conversations.get(k) != v
        ),
        removed_conversation_ids=tuple(k for k in old_conversations if k not in new.conversations),
    )
