"""Validation of contacts as posted to ingest (JSON) and as read back by the worker.

Pure: the caller passes ``received_at``. One function serves both sides so the door and the
worker agree on what a valid contact is.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from schemas import CONTACT_FIELDS

CHANNELS = frozenset({"social", "email", "web_form", "chat", "phone"})
DIRECTIONS = frozenset({"inbound", "outbound"})
KINDS = frozenset({"message", "close"})
MAX_BODY_CHARS = 100_000
MAX_ID_CHARS = 512
MAX_SUBJECT_CHARS = 2000
# Bounds per field, so that a refusal names the field; the whole contact has its own below.
MAX_REFERENCES = 500
MAX_ATTRIBUTES = 64
MAX_ATTRIBUTE_NAME_CHARS = 128
MAX_ATTRIBUTE_CHARS = 10_000
# Kafka's brokers take records up to about 1 MB (message.max.bytes); a larger contact would
# be refused there, its whole batch with it. Counted as JSON, which Avro never exceeds.
MAX_CONTACT_BYTES = 900_000
# Event time more than a day ahead of arrival is a producer bug, not a contact from the future.
MAX_CLOCK_SKEW_MS = 24 * 3600 * 1000
EARLIEST_MS = 946_684_800_000  # 2000-01-01: older timestamps are unit mistakes (seconds, not ms)

_CONTACT_NS = uuid.UUID("6f0e4a52-3c1b-4f55-9d0a-2c1e5a7b9e10")
_KNOWN_FIELDS = frozenset(CONTACT_FIELDS)


class InvalidContact(ValueError):
    """Raised with every problem found, as ``field: message`` strings."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def contact_id_for(source: str, source_id: str) -> str:
    """The stable id: the same (source, source_id) always gets the same contact_id."""
    return str(uuid.uuid5(_CONTACT_NS, f"{source}\x1f{source_id}"))


def parse_timestamp_ms(value: Any) -> int:
    """Epoch milliseconds from an int (ms) or an ISO-8601 string with a time zone."""
    if isinstance(value, bool):
        raise ValueError("must be epoch milliseconds or an ISO-8601 timestamp, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from None
        if parsed.tzinfo is None:
            raise ValueError(f"timestamp {value!r} has no time zone (add Z or +00:00)")
        return int(parsed.timestamp() * 1000)
    raise ValueError(
        f"must be epoch milliseconds or an ISO-8601 string, got {type(value).__name__}"
    )


def _text(
    raw: Mapping[str, Any], name: str, errors: list[str], *, required: bool, limit: int
) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            errors.append(f"{name}: required")
        return None
    if not isinstance(value, str):
        errors.append(f"{name}: must be a string, got {type(value).__name__}")
        return None
    if required and not value.strip():
        errors.append(f"{name}: must not be empty")
        return None
    if len(value) > limit:
        errors.append(f"{name}: longer than {limit} characters")
        return None
    return value


def _choice(value: Any, name: str, allowed: frozenset[str], errors: list[str]) -> str | None:
    if isinstance(value, str) and value in allowed:
        return value
    shown = repr(value) if isinstance(value, str | None) else f"a {type(value).__name__}"
    errors.append(f"{name}: must be one of {', '.join(sorted(allowed))}, got {shown}")
    return None


def _references_problem(references: Any) -> str | None:
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        return "must be a list of strings"
    if len(references) > MAX_REFERENCES:
        return f"more than {MAX_REFERENCES} ids"
    if any(len(r) > MAX_ID_CHARS for r in references):
        return f"an id is longer than {MAX_ID_CHARS} characters"
    return None


def _attributes_problem(attributes: Any) -> str | None:
    if not isinstance(attributes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        return "must be an object of string values"
    if len(attributes) > MAX_ATTRIBUTES:
        return f"more than {MAX_ATTRIBUTES} entries"
    too_long = sorted(
        k
        for k, v in attributes.items()
        if len(k) > MAX_ATTRIBUTE_NAME_CHARS or len(v) > MAX_ATTRIBUTE_CHARS
    )
    if too_long:
        return (
            f"names over {MAX_ATTRIBUTE_NAME_CHARS} or values over {MAX_ATTRIBUTE_CHARS}"
            f" characters: {', '.join(k[:40] for k in too_long[:5])}"
        )
    return None


def validate(raw: Any, *, received_at: int) -> dict[str, Any]:
    """Turn one posted contact into a Contact record, or raise InvalidContact saying why."""
    if not isinstance(raw, Mapping):
        raise InvalidContact([f"contact must be a JSON object, got {type(raw).__name__}"])
    errors: list[str] = []
    unknown = sorted(set(raw) - _KNOWN_FIELDS)
    if unknown:
        errors.append(f"unknown fields: {', '.join(unknown)}")

    source = _text(raw, "source", errors, required=True, limit=MAX_ID_CHARS)
    source_id = _text(raw, "source_id", errors, required=True, limit=MAX_ID_CHARS)
    brand = _text(raw, "brand", errors, required=True, limit=MAX_ID_CHARS)
    handle = _text(raw, "customer_handle", errors, required=True, limit=MAX_ID_CHARS)
    body = raw.get("body")
    if not isinstance(body, str):
        errors.append("body: required string" if body is None else "body: must be a string")
    elif len(body) > MAX_BODY_CHARS:
        errors.append(f"body: longer than {MAX_BODY_CHARS} characters")

    channel = _choice(raw.get("channel"), "channel", CHANNELS, errors)
    direction = _choice(raw.get("direction"), "direction", DIRECTIONS, errors)
    kind = _choice(raw.get("kind", "message"), "kind", KINDS, errors)

    optional = {
        name: _text(raw, name, errors, required=False, limit=limit)
        for name, limit in (
            ("customer_email", MAX_ID_CHARS),
            ("conversation_ref", MAX_ID_CHARS),
            ("in_reply_to", MAX_ID_CHARS),
            ("subject", MAX_SUBJECT_CHARS),
            ("language", 16),
        )
    }
    references = raw.get("references", [])
    problem = _references_problem(references)
    if problem:
        errors.append(f"references: {problem}")
        references = []
    attributes = raw.get("attributes", {})
    problem = _attributes_problem(attributes)
    if problem:
        errors.append(f"attributes: {problem}")
        attributes = {}

    occurred_at = 0
    if "occurred_at" not in raw:
        errors.append("occurred_at: required (event time, epoch ms or ISO-8601)")
    else:
        try:
            occurred_at = parse_timestamp_ms(raw["occurred_at"])
        except ValueError as exc:
            errors.append(f"occurred_at: {exc}")
        else:
            if occurred_at < EARLIEST_MS:
                errors.append("occurred_at: before 2000-01-01 (seconds instead of milliseconds?)")
            elif occurred_at > received_at + MAX_CLOCK_SKEW_MS:
                errors.append("occurred_at: more than a day in the future")

    received = raw.get("received_at")
    if received is not None and (isinstance(received, bool) or not isinstance(received, int)):
        errors.append(f"received_at: must be epoch milliseconds, got {type(received).__name__}")

    if errors:
        raise InvalidContact(errors)
    assert source is not None and source_id is not None  # errors would have been raised
    expected_id = contact_id_for(source, source_id)
    if raw.get("contact_id") not in (None, expected_id):
        raise InvalidContact(
            [f"contact_id: derived from (source, source_id), expected {expected_id}"]
        )
    record = {
        "contact_id": expected_id,
        "source": source,
        "source_id": source_id,
        "channel": channel,
        "direction": direction,
        "kind": kind,
        "brand": brand,
        "customer_handle": handle,
        "customer_email": optional["customer_email"],
        "conversation_ref": optional["conversation_ref"],
        "in_reply_to": optional["in_reply_to"],
        "references": list(references),
        "occurred_at": occurred_at,
        "received_at": received or received_at,
        "subject": optional["subject"],
        "body": body,
        "language": optional["language"],
        "attributes": dict(attributes),
    }
    size = len(orjson.dumps(record))
    if size > MAX_CONTACT_BYTES:
        raise InvalidContact([f"contact: {size} bytes as JSON, more than {MAX_CONTACT_BYTES}"])
    return record
