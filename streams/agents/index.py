"""Index stage: the output topics' records -> Elasticsearch bulk actions (streams.indexer).

Documents are keyed by their own id and versioned by the timeline revision (see
streams.sinks.elastic), so replays and out-of-order re-publications converge on the newest
state. A document Elasticsearch refuses for good goes to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from schemas import Codec, DecodeError
from streams.agents.thread import flat_message
from streams.sinks.dead_letter import DeadLetter, SourceMessage
from streams.sinks.elastic import Action, Failed

REVISION_HEADER = "ascolto-revision"


def tombstone_revision(message: SourceMessage) -> int | None:
    headers = message.headers or []
    items = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in items:
        if name == REVISION_HEADER and value:
            return int(value)
    return None


def dead_letters_for(
    failed: Sequence[Failed], by_id: Mapping[str, SourceMessage]
) -> list[DeadLetter]:
    """Documents Elasticsearch refused for good, as dead letters of the records carrying them."""
    return [
        DeadLetter.of_message(
            by_id[f.action.doc_id], "index", "index_mapping", f.reason, f.action.doc_id
        )
        for f in failed
    ]


def contact_actions(
    messages: Sequence[SourceMessage], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter], dict[str, int], dict[str, SourceMessage]]:
    """Bulk actions for EnrichedContact records; received_at of first publications; records."""
    by_id: dict[str, SourceMessage] = {}
    actions: list[Action] = []
    dead: list[DeadLetter] = []
    first_received: dict[str, int] = {}
    for message in messages:
        try:
            record = codec.decode(message.value, expect="EnrichedContact")
        except DecodeError as exc:
            dead.append(DeadLetter.of_message(message, stage, "schema", str(exc)))
            continue
        doc: dict[str, Any] = dict(flat_message(record))
        doc.pop("is_update", None)
        actions.append(Action(doc["contact_id"], doc, record["revision"]))
        by_id[doc["contact_id"]] = message
        if not record["is_update"]:
            first_received[doc["contact_id"]] = doc["received_at"]
    return actions, dead, first_received, by_id


def sla_actions(
    messages: Sequence[SourceMessage], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter], dict[str, SourceMessage]]:
    """SLA events keyed by event_id: a met that corrects a breached overwrites it."""
    by_id: dict[str, SourceMessage] = {}
    actions: list[Action] = []
    dead: list[DeadLetter] = []
    for message in messages:
        if message.value is None and message.key:  # a retracted event
            event_id = message.key.decode()
            actions.append(Action(event_id, None, None))
            by_id[event_id] = message
            continue
        try:
            record = codec.decode(message.value, expect="SlaEvent")
        except DecodeError as exc:
            dead.append(DeadLetter.of_message(message, stage, "schema", str(exc)))
            continue
        actions.append(Action(record["event_id"], record, None))
        by_id[record["event_id"]] = message
    return actions, dead, by_id


def conversation_actions(
    messages: Sequence[SourceMessage], codec: Codec, stage: str
) -> tuple[list[Action], list[DeadLetter], dict[str, SourceMessage]]:
    by_id: dict[str, SourceMessage] = {}
    actions: list[Action] = []
    dead: list[DeadLetter] = []
    for message in messages:
        value = message.value
        if value is None:  # tombstone: merged into another conversation
            key = message.key
            if key:
                actions.append(Action(key.decode(), None, tombstone_revision(message)))
                by_id[key.decode()] = message
            continue
        try:
            record = codec.decode(value, expect="Conversation")
        except DecodeError as exc:
            dead.append(DeadLetter.of_message(message, stage, "schema", str(exc)))
            continue
        actions.append(Action(record["conversation_id"], record, record["revision"]))
        by_id[record["conversation_id"]] = message
    return actions, dead, by_id
