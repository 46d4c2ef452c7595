"""A customer's timeline: every contact of one (brand, customer), and exact deduplication.

The timeline lives in a changelog-backed table keyed by (brand, customer_id), so it is plain
data: a dict from contact_id to Message.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, TypedDict

Channel: TypeAlias = Literal["social", "email", "web_form", "chat", "phone"]
Direction: TypeAlias = Literal["inbound", "outbound"]
Kind: TypeAlias = Literal["message", "close"]


class Message(TypedDict):
    """One contact as the threading rules see it (contact.v1 plus enrichment).

    All keys are required (the rules index them directly, on the hot path); other
    contact.v1 fields (body, subject, ...) may ride along and are ignored.
    """

    contact_id: str  # derived from (source, source_id): an exact redelivery has the same one
    source: str
    source_id: str
    channel: Channel
    direction: Direction  # inbound: from the customer; outbound: from an agent
    kind: Kind  # close: an agent closed the conversation
    brand: str
    customer_id: str  # resolved identity; one timeline shares brand and customer_id
    conversation_ref: str | None  # chat session id, ticket id
    in_reply_to: str | None  # source_id of the parent
    references: list[str]  # email References chain, source_ids, oldest first
    occurred_at: int  # event time, epoch millis UTC
    fingerprint: str | None  # streams.rules.fingerprint.fingerprint(body)


Timeline: TypeAlias = dict[str, Message]


def add(timeline: Timeline, message: Message) -> tuple[Timeline, bool]:
    """Add a message; return (timeline, is_exact_duplicate).

    An exact duplicate (the contact_id is already there: a redelivery) leaves the timeline
    as it was and the first copy wins; the returned timeline is then the input itself.
    Otherwise the result is a new dict: the input is never mutated (a shallow copy of a
    customer's few dozen entries costs about a microsecond).
    """
    contact_id = message["contact_id"]
    if contact_id in timeline:
        return timeline, True
    grown = dict(timeline)
    grown[contact_id] = message
    return grown, False
