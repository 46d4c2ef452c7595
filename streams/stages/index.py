"""Index stage: the output topics' records -> Elasticsearch bulk actions (streams.indexer).

Documents are keyed by their own id and versioned by the timeline revision (see
streams.sinks.elastic), so replays and out-of-order re-publications converge on the newest
state. A document Elasticsearch refuses for good goes to the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas import Codec, DecodeError
from streams.sinks.dead_letter import DeadLetter, SourceMessage, header
from streams.sinks.elastic import Action, Failed
from streams.stages.records import REVISION_HEADER, flat_message


@dataclass
class Built:
    """What a topic's records become: bulk actions, dead letters of those that cannot be
    decoded, the record behind each document id, and (contacts only) when each contact
    published for the first time was received, in ms, for the latency histogram."""

    actions: list[Action] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    by_id: dict[str, SourceMessage] = field(default_factory=dict)
    first_received: dict[str, int] = field(default_factory=dict)


def tombstone_revision(message: SourceMessage) -> int | None:
    value = header(message, REVISION_HEADER)
    return int(value) if value else None


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


def _deleted(message: SourceMessage, out: Built) -> bool:
    """A tombstone: the document deleted, unless a newer revision is there (the revision in
    the record's header); False for a record with a value."""
    if message.value is not None:
        return False
    if message.key:
        doc_id = message.key.decode()
        out.actions.append(Action(doc_id, None, tombstone_revision(message)))
        out.by_id[doc_id] = message
    return True


def contact_actions(messages: Sequence[SourceMessage], codec: Codec, stage: str) -> Built:
    """Bulk actions for EnrichedContact records; a tombstone (an erasure) deletes one."""
    out = Built()
    for message in messages:
        if _deleted(message, out):
            continue
        try:
            record = codec.decode(message.value, expect="EnrichedContact")
        except DecodeError as exc:
            out.dead.append(DeadLetter.of_message(message, stage, "schema", str(exc)))
            continue
        doc: dict[str, Any] = dict(flat_message(record))
        doc.pop("is_update", None)
        out.actions.append(Action(doc["contact_id"], doc, record["revision"]))
        out.by_id[doc["contact_id"]] = message
        if not record["is_update"]:
            out.first_received[doc["contact_id"]] = doc["received_at"]
    return out


def sla_actions(messages: Sequence[SourceMessage], codec: Codec, stage: str) -> Built:
    """SLA events keyed by event_id: a met that corrects a breached overwrites it."""
    out = Built()
    for message in messages:
        # a retracted or erased event. Unversioned, whatever the header says: an event is
        # written without a version, and Elasticsearch's own would refuse a lower one.
        if message.value is None and message.key:
            event_id = message.key.decode()
            out.actions.append(Action(event_id, None, None))
            out.by_id[event_id] = message
            continue
        try:
            record = codec.decode(message.value, expect="SlaEvent")
        except DecodeError as exc:
            out.dead.append(DeadLetter.of_message(message, stage, "schema", str(exc)))
            continue
        out.actions.append(Action(record["event_id"], record, None))
        out.by_id[record["event_id"]] = message
    return out


def conversation_actions(messages: Sequence[SourceMessage], codec: Codec, stage: str) -> Built:
    out = Built()
    for message in messages:
        if _deleted(message, out):  # merged into another conversation, or erased
            continue
        try:
            record = codec.decode(message.value, expect="Conversation")
        except DecodeError as exc:
            out.dead.append(DeadLetter.of_message(message, stage, "schema", str(exc)))
            continue
        out.actions.append(Action(record["conversation_id"], record, record["revision"]))
        out.by_id[record["conversation_id"]] = message
    return out
