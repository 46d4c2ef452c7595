"""Index stage: the output topics -> Elasticsearch, in bulk.

Documents are keyed by their own id and versioned by the timeline revision (see
streams.sinks.elastic), so replays and out-of-order re-publications converge on the newest
state. A document Elasticsearch refuses for good goes to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from faust.types import EventT

from schemas import Codec, DecodeError
from streams.agents.thread import flat_message
from streams.sinks.dead_letter import DeadLetter
from streams.sinks.elastic import Action, Failed

REVISION_HEADER = "ascolto-revision"


def tombstone_revision(event: EventT) -> int | None:
    headers = event.message.headers or []
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        if name == REVISION_HEADER and value:
            return int(value)
    return None


def dead_letters_for(
    failed: Sequence[Failed], events_by_id: Mapping[str, EventT]
) -> list[DeadLetter]:
    """Documents Elasticsearch refused for good, as dead letters of the events that carried them."""
    return [
        DeadLetter.of_event(
            events_by_id[f.action.doc_id], "index", "index_mapping", f.reason, f.action.doc_id
        )
        for f in failed
    ]


def contact_actions(
    events: Sequence[EventT], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter], dict[str, int], dict[str, EventT]]:
    """Bulk actions for EnrichedContact events; received_at of first publications; events."""
    events_by_id: dict[str, EventT] = {}
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
        events_by_id[doc["contact_id"]] = event
        if not record["is_update"]:
            first_received[doc["contact_id"]] = doc["received_at"]
    return actions, dead, first_received, events_by_id


def sla_actions(
    events: Sequence[EventT], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter], dict[str, EventT]]:
    """SLA events keyed by event_id: a met that corrects a breached overwrites it."""
    events_by_id: dict[str, EventT] = {}
    actions: list[Action] = []
    dead: list[DeadLetter] = []
    for event in events:
        if event.message.value is None and event.message.key:  # a retracted event
            event_id = event.message.key.decode()
            actions.append(Action(event_id, None, None))
            events_by_id[event_id] = event
            continue
        try:
            record = codec.decode(event.message.value, expect="SlaEvent")
        except DecodeError as exc:
            dead.append(DeadLetter.of_event(event, stage, "schema", str(exc)))
            continue
        actions.append(Action(record["event_id"], record, None))
        events_by_id[record["event_id"]] = event
    return actions, dead, events_by_id


def conversation_actions(
    events: Sequence[EventT], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter], dict[str, EventT]]:
    events_by_id: dict[str, EventT] = {}
    actions: list[Action] = []
    dead: list[DeadLetter] = []
    for event in events:
        value = event.message.value
        if value is None:  # tombstone: merged into another conversation
            key = event.message.key
            if key:
                actions.append(Action(key.decode(), None, tombstone_revision(event)))
                events_by_id[key.decode()] = event
            continue
        try:
            record = codec.decode(value, expect="Conversation")
        except DecodeError as exc:
            dead.append(DeadLetter.of_event(event, stage, "schema", str(exc)))
            continue
        actions.append(Action(record["conversation_id"], record, record["revision"]))
        events_by_id[record["conversation_id"]] = event
    return actions, dead, events_by_id
