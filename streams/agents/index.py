"""Index stage: the output topics -> Elasticsearch, in bulk.

Documents are keyed by their own id and versioned by the timeline revision (see
streams.sinks.elastic), so replays and out-of-order re-publications converge on the newest
state. A document Elasticsearch refuses for good goes to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faust.types import EventT

from schemas import Codec, DecodeError
from streams.agents.thread import flat_message
from streams.sinks.dead_letter import DeadLetter
from streams.sinks.elastic import Action


def contact_actions(
    events: Sequence[EventT], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter], dict[str, int]]:
    """Bulk actions for EnrichedContact events; also received_at of first publications."""
    actions: list[Action] = []
    dead: list[DeadLetter] = []
    first_received: dict[str, int] = {}
    for event in events:
        try:
            record = codec.decode(event.message.value, expect="EnrichedContact")
        except DecodeError as exc:
            dead.append(DeadLetter.of_event(event, stage, "schema", str(exc)))
            continue
        doc: dict[str, Any] = dict(flat_message(record))
        doc.pop("is_update", None)
        actions.append(Action(doc["contact_id"], doc, record["revision"]))
        if not record["is_update"]:
            first_received[doc["contact_id"]] = doc["received_at"]
    return actions, dead, first_received


def conversation_actions(
    events: Sequence[EventT], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter]]:
    actions: list[Action] = []
    dead: list[DeadLetter] = []
    for event in events:
        value = event.message.value
        if value is None:  # tombstone: merged into another conversation
            key = event.message.key
            if key:
                actions.append(Action(key.decode(), None, None))
            continue
        try:
            record = codec.decode(value, expect="Conversation")
        except DecodeError as exc:
            dead.append(DeadLetter.of_event(event, stage, "schema", str(exc)))
            continue
        actions.append(Action(record["conversation_id"], record, record["revision"]))
    return actions, dead
