"""Avro schemas (the ``*.avsc`` files beside this module) and the one codec every component uses.

Every Kafka message is Avro *single-object encoding*: the two marker bytes ``C3 01``, the
8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing canonical form,
then the Avro binary body. A reader therefore knows from the message itself which schema
wrote it. A message of the current version is read as written; one of another version (older,
or newer from a process already upgraded) is resolved to the current version by Avro's rules.
The other versions come from the earlier ``.avsc`` files kept here and from the ``schemas``
topic (``schemas.registry``); a writer found in neither, or one that does not resolve, is
refused with a clear error (docs/schemas.md).

Timestamps (``timestamp-millis``) are read as plain ``int`` epoch milliseconds: the business
rules compute with integers, and it spares a datetime per field on the hot path.
"""

from __future__ import annotations

import copy
import io
import json
import re
import struct
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.schema import expand_schema, fingerprint, to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).resolve().parent
MAGIC = b"\xc3\x01"
HEADER_LEN = 10

# The current version of each message type. Load order matters: a schema may refer to types
# named in an earlier one. Earlier versions stay beside them (``contact.v1.avsc`` when
# ``contact.v2.avsc`` is current); ``kept_versions`` finds them.
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
VERSIONED = re.compile(r"^(?P<stem>[a-z0-9-]+)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def field_names(file: str) -> tuple[str, ...]:
    """A record schema's top-level field names, in the schema's order."""
    return tuple(f["name"] for f in json.loads((SCHEMA_DIR / file).read_text())["fields"])


# What a contact is made of, as ingest accepts it and as the enriched record nests it.
CONTACT_FIELDS = field_names(next(f for f in SCHEMA_FILES if f.startswith("contact.")))


def kept_versions(current: Path) -> list[Path]:
    """Every kept version of the message type ``current`` is a version of, oldest first."""
    match = VERSIONED.match(current.name)
    if match is None:
        raise ValueError(f"{current.name}: not named <type>.v<N>.avsc")
    found = [
        (int(m["version"]), p)
        for p in current.parent.glob(f"{match['stem']}.v*.avsc")
        if (m := VERSIONED.match(p.name)) and m["stem"] == match["stem"]
    ]
    return [p for _, p in sorted(found)]


class DecodeError(ValueError):
    """The payload is not a message this codec can read; ``str(err)`` says why."""


class SchemaSource(Protocol):
    """Where writer schemas the codec was not built with are looked up (``schemas.registry``)."""

    def lookup(self, fingerprint: bytes) -> str | None:
        """The canonical schema JSON whose fingerprint is ``fingerprint``, or None."""


def _strip_logical_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strip_logical_types(v) for k, v in schema.items() if k != "logicalType"}
        return out
    if isinstance(schema, list):
        return [_strip_logical_types(s) for s in schema]
    return schema


def _fingerprint(canonical: str) -> bytes:
    return struct.pack("<Q", int(fingerprint(canonical, "CRC-64-AVRO"), 16))


def parse(raw: Any, named: dict[str, Any]) -> tuple[bytes, str, Any]:
    """A schema as the codec holds it: (its fingerprint, its canonical form, parsed). The
    canonical form holds the types it names from other files (expanded), so a new version of
    a nested type (Contact in EnrichedContact) is a new fingerprint of the outer one too."""
    parsed = fastavro.parse_schema(_strip_logical_types(copy.deepcopy(raw)), named_schemas=named)
    canonical = to_parsing_canonical_form(expand_schema(parsed))
    return _fingerprint(canonical), canonical, parsed


def _short_name(schema: Any) -> str:
    return str(schema["name"]).rsplit(".", 1)[-1] if isinstance(schema, dict) else str(schema)


class Codec:
    """Encodes and decodes named records; holds every schema parsed once.

    ``_readers`` maps a writer fingerprint to (type name, writer schema, reader schema): the
    reader is None for the current version (read as written, the hot path) and the current
    version's schema for any other, which fastavro then resolves."""

    def __init__(
        self,
        files: Iterable[Path],
        source: SchemaSource | None = None,
        history: Iterable[Path] = (),
        first: Iterable[Path] = (),
    ) -> None:
        named: dict[str, Any] = {}
        self._by_name: dict[str, tuple[bytes, Any]] = {}
        self._canonical: dict[str, tuple[str, str]] = {}
        self._readers: dict[bytes, tuple[str, Any, Any]] = {}
        self._source = source
        for path in files:
            fp, canonical, parsed = parse(json.loads(path.read_text()), named)
            name = _short_name(parsed)
            self._by_name[name] = (MAGIC + fp, parsed)
            self._canonical[name] = (fp.hex(), canonical)
            self._readers[fp] = (name, parsed, None)
        for path in history:
            fp, _, parsed = parse(json.loads(path.read_text()), dict(named))
            self._readers.setdefault(fp, self._pair(fp, parsed))
        # The first versions, together: what a type nesting another wrote before either had a
        # version 2 (EnrichedContact with Contact v1), also under the fingerprint without the
        # nested type's definition which this codec gave such a type until then.
        first_named: dict[str, Any] = {}
        for path in first:
            fp, _, parsed = parse(json.loads(path.read_text()), first_named)
            pair = self._readers.setdefault(fp, self._pair(fp, parsed))
            self._readers.setdefault(_fingerprint(to_parsing_canonical_form(parsed)), pair)

    def attach(self, source: SchemaSource) -> None:
        """Look writers this codec does not know up in ``source`` from now on."""
        self._source = source

    def schema(self, name: str) -> Any:
        return self._by_name[name][1]

    def canonical(self, names: Iterable[str]) -> dict[str, str]:
        """Fingerprint (hex of its bytes in a message) -> canonical JSON of the named types'
        current versions: what a process registers before it writes them."""
        return dict(self._canonical[name] for name in names)

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
        fp = payload[2:HEADER_LEN]
        found = self._readers.get(fp)
        if found is None:
            found = self._readers[fp] = self._writer(fp)
        name, writer, reader = found
        buf = io.BytesIO(payload)
        buf.seek(HEADER_LEN)
        try:
            record = fastavro.schemaless_reader(buf, writer, reader)
        except SchemaResolutionError as exc:
            raise DecodeError(
                f"writer schema {fp.hex()} ({name}) does not resolve to this version's {name}: "
                f"{brief_reason(exc)}"
            ) from exc
        except Exception as exc:  # fastavro raises several types on corrupt input
            raise DecodeError(f"corrupt {name} body: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(payload):
            raise DecodeError(f"corrupt {name} body: {len(payload) - buf.tell()} trailing bytes")
        return name, record  # type: ignore[return-value]

    def _writer(self, fp: bytes) -> tuple[str, Any, Any]:
        text = self._source.lookup(fp) if self._source is not None else None
        if text is None:
            where = "in the schema registry" if self._source is not None else "here"
            raise DecodeError(
                f"unknown writer schema, fingerprint {fp.hex()}: written by a schema not known "
                f"{where}"
            )
        try:
            found, _, parsed = parse(json.loads(text), {})
        except Exception as exc:
            raise DecodeError(
                f"writer schema {fp.hex()} in the registry does not parse: {exc}"
            ) from exc
        if found != fp:
            raise DecodeError(f"the registry's schema for {fp.hex()} has fingerprint {found.hex()}")
        return self._pair(fp, parsed)

    def _pair(self, fp: bytes, writer: Any) -> tuple[str, Any, Any]:
        name = _short_name(writer)
        if name not in self._by_name:
            raise DecodeError(f"writer schema {fp.hex()} is a {name}, a type this version lacks")
        return name, writer, self._by_name[name][1]


def brief_reason(exc: Exception, limit: int = 240) -> str:
    """fastavro's resolution errors print both schemas whole: keep a log line's worth."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def current_and_history(
    files: Iterable[str], directory: Path = SCHEMA_DIR
) -> tuple[list[Path], list[Path]]:
    """The current files and every earlier kept version of them."""
    current = [directory / f for f in files if (directory / f).exists()]
    return current, [old for path in current for old in kept_versions(path) if old != path]


@cache
def codec() -> Codec:
    """The process-wide codec over every schema shipped in this folder."""
    current, history = current_and_history(SCHEMA_FILES)
    return Codec(current, history=history, first=first_versions(SCHEMA_FILES))


def first_versions(files: Iterable[str], directory: Path = SCHEMA_DIR) -> list[Path]:
    """The version 1 of each type, in load order."""
    return [kept_versions(directory / f)[0] for f in files if (directory / f).exists()]
