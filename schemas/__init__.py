"""Avro schemas (the ``*.avsc`` files beside this module) and the one codec every component uses.

Every Kafka message is Avro *single-object encoding*: the two marker bytes ``C3 01``, the
8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing canonical form,
then the Avro binary body. A reader therefore knows from the message itself which schema
wrote it, and refuses anything it does not know with a clear error.

Timestamps (``timestamp-millis``) are read as plain ``int`` epoch milliseconds: the business
rules compute with integers, and it spares a datetime per field on the hot path.
"""

from __future__ import annotations

import copy
import io
import json
import struct
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).resolve().parent
MAGIC = b"\xc3\x01"
HEADER_LEN = 10

# Load order matters: a schema may refer to types named in an earlier one.
SCHEMA_FILES = (
    "contact.v1.avsc",
    "enriched-contact.v1.avsc",
    "conversation.v1.avsc",
    "dead-letter.v1.avsc",
    "customer.v1.avsc",
    "sla-event.v1.avsc",
    "erasure.v1.avsc",
    "audit-event.v1.avsc",
)


def field_names(file: str) -> tuple[str, ...]:
    """A record schema's top-level field names, in the schema's order."""
    return tuple(f["name"] for f in json.loads((SCHEMA_DIR / file).read_text())["fields"])


# What a contact is made of, as ingest accepts it and as the enriched record nests it.
CONTACT_FIELDS = field_names("contact.v1.avsc")


class DecodeError(ValueError):
    """The payload is not a message this codec can read; ``str(err)`` says why."""


def _strip_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
        return out
    if isinstance(schema, list):
        return [_strip_logical_types(s) for s in schema]
    return schema


class Codec:
    """Encodes and decodes named records; holds every schema parsed once."""

    def __init__(self, files: Iterable[Path]) -> None:
        named: dict[str, Any] = {}
        self._by_name: dict[str, tuple[bytes, Any]] = {}
        self._by_fingerprint: dict[bytes, tuple[str, Any]] = {}
        for path in files:
            raw = json.loads(path.read_text())
            parsed = fastavro.parse_schema(
                _strip_logical_types(copy.deepcopy(raw)), named_schemas=named
            )
            canonical = to_parsing_canonical_form(parsed)
            fp = struct.pack("<Q", int(fingerprint(canonical, "CRC-64-AVRO"), 16))
            name = str(raw["name"])
            self._by_name[name] = (MAGIC + fp, parsed)
            self._by_fingerprint[fp] = (name, parsed)

    def schema(self, name: str) -> Any:
        return self._by_name[name][1]

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        header, schema = self._by_name[name]
        buf = io.BytesIO()
        buf.write(header)
        fastavro.schemaless_writer(buf, schema, record)
        return buf.getvalue()

    def decode(self, payload: bytes | None, expect: str | None = None) -> dict[str, Any]:
        name, record = self.decode_any(payload)
        if expect is not None and name != expect:
            raise DecodeError(f"expected a {expect} message, got a {name}")
        return record

    def decode_any(self, payload: bytes | None) -> tuple[str, dict[str, Any]]:
        if not payload:
            raise DecodeError("empty message")
        if payload[:2] != MAGIC or len(payload) < HEADER_LEN:
            raise DecodeError(
                "not an Avro single-object message (missing the C3 01 marker): "
                f"starts with {payload[:12]!r}"
            )
        found = self._by_fingerprint.get(payload[2:HEADER_LEN])
        if found is None:
            raise DecodeError(
                f"unknown writer schema, fingerprint {payload[2:HEADER_LEN].hex()}: "
                "written by a schema this version does not know"
            )
        name, schema = found
        buf = io.BytesIO(payload)
        buf.seek(HEADER_LEN)
        try:
            record = fastavro.schemaless_reader(buf, schema, None)
        except Exception as exc:  # fastavro raises several types on corrupt input
            raise DecodeError(f"corrupt {name} body: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(payload):
            raise DecodeError(f"corrupt {name} body: {len(payload) - buf.tell()} trailing bytes")
        return name, record  # type: ignore[return-value]


@cache
def codec() -> Codec:
    """The process-wide codec over every schema shipped in this folder."""
    return Codec(SCHEMA_DIR / f for f in SCHEMA_FILES if (SCHEMA_DIR / f).exists())
