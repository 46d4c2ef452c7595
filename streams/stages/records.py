"""What the stages hand each other through Kafka, beyond the Avro schemas: the thread stage
writes these records and headers, the index stage reads them."""

from __future__ import annotations

from typing import Any

from streams.rules.timeline import Message

# A conversation's tombstone carries the revision that deleted it (streams.sinks.elastic).
REVISION_HEADER = "ascolto-revision"


def flat_message(record: dict[str, Any]) -> Message:
    """An EnrichedContact flattened: the contact's fields beside its enrichment."""
    flat = dict(record["contact"])
    for key, value in record.items():
        if key != "contact":
            flat[key] = value
    return flat  # type: ignore[return-value]
