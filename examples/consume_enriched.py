"""Read Ascolto's ``contacts.enriched`` and ``sla.events`` as a downstream service would: with
kafka-python, fastavro and the ``.avsc`` files Ascolto ships in ``schemas/``, nothing else of
Ascolto's. docs/topics.md is the contract it follows.

    python examples/consume_enriched.py --bootstrap 127.0.0.1:9092 --until-end --view

prints one JSON line per record (a tombstone's value is null), and with ``--view`` a last line
holding each topic read as a table: the latest contact per ``contact_id`` (highest
``revision``), the latest SLA event per ``event_id``, tombstones applied.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import UnknownType, expand_schema, fingerprint, to_parsing_canonical_form
from kafka import KafkaConsumer, TopicPartition

MAGIC = b"\xc3\x01"
HEADER_LEN = 10  # the marker, then the writer schema's 8-byte fingerprint
VERSIONED = re.compile(r"^(?P<stem>[a-z0-9-]+)\.v(?P<version>[1-9][0-9]*)\.avsc$")
REVISION_HEADER = "ascolto-revision"
TOPICS = ("contacts.enriched", "sla.events")
SCHEMAS_TOPIC = "schemas"
DEFAULT_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def schema_fingerprint(parsed: Any, expanded: bool = True) -> bytes:
    """The 8 bytes a message carries: CRC-64-AVRO of the parsing canonical form, little-endian.
    Ascolto fingerprints a schema with the types it names from other files written out."""
    canonical = to_parsing_canonical_form(expand_schema(parsed) if expanded else parsed)
    return struct.pack("<Q", int(fingerprint(canonical, "CRC-64-AVRO"), 16))


def without_logical_types(schema: Any) -> Any:
    """Timestamps read as epoch milliseconds, whichever schema (file or registry) wrote them."""
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    return schema


def parse_together(raws: dict[str, Any], named: dict[str, Any]) -> dict[str, tuple[Any, set[str]]]:
    """Parse schemas (by a label) that may name each other's types, in whatever order they
    come: label -> (parsed, the names it defined). ``named`` collects the names."""
    pending, done = dict(raws), {}
    while pending:
        left = {}
        for label, raw in pending.items():
            trial = dict(named)
            try:
                parsed = fastavro.parse_schema(without_logical_types(raw), named_schemas=trial)
            except UnknownType:
                left[label] = raw
                continue
            done[label] = (parsed, set(trial) - set(named))
            named.update(trial)
        if len(left) == len(pending):
            raise ValueError(f"schemas naming types no file defines: {sorted(left)}")
        pending = left
    return done


class SchemaBook:
    """Writer schemas by fingerprint, and the reader (the newest file's version) per type."""

    def __init__(self, directory: Path) -> None:
        versions: dict[str, dict[int, Any]] = {}
        for path in directory.glob("*.avsc"):
            if match := VERSIONED.match(path.name):
                raw = json.loads(path.read_text())
                versions.setdefault(match["stem"], {})[int(match["version"])] = raw
        if not versions:
            raise ValueError(f"{directory}: no <type>.v<N>.avsc files")
        self.readers: dict[str, Any] = {}
        self.writers: dict[bytes, Any] = {}
        named: dict[str, Any] = {}
        newest = parse_together({s: v[max(v)] for s, v in versions.items()}, named)
        for parsed, _ in newest.values():
            self.readers[parsed["name"]] = parsed
            self.writers[schema_fingerprint(parsed)] = parsed
        # an older version is read with the other files' newest types, as Ascolto writes it
        for stem, by_version in versions.items():
            others = {n: named[n] for s, (_, names) in newest.items() if s != stem for n in names}
            for version in sorted(by_version)[:-1]:
                old = parse_together({stem: by_version[version]}, others)
                self.writers.setdefault(schema_fingerprint(old[stem][0]), old[stem][0])
        # Ascolto once fingerprinted version 1 without the nested types written out
        firsts = parse_together({s: v[min(v)] for s, v in versions.items()}, {})
        for parsed, _ in firsts.values():
            self.writers.setdefault(schema_fingerprint(parsed), parsed)
            self.writers.setdefault(schema_fingerprint(parsed, expanded=False), parsed)
        self.registry: Registry | None = None

    def decode(self, payload: bytes) -> tuple[str, dict[str, Any]]:
        """(the record's type's full name, the record read as the newest version)."""
        if payload[:2] != MAGIC or len(payload) < HEADER_LEN:
            raise ValueError(f"not an Avro single-object message: starts {payload[:12]!r}")
        writer = self.writer(payload[2:HEADER_LEN])
        name = writer["name"]
        if name not in self.readers:
            raise ValueError(f"a {name} message: no schema file of that type here")
        reader = self.readers[name]
        body = io.BytesIO(payload[HEADER_LEN:])
        try:
            record = fastavro.schemaless_reader(body, writer, None if reader is writer else reader)
        except Exception as exc:  # fastavro raises several types on a corrupt body
            raise ValueError(f"a {name} that does not decode: {type(exc).__name__}: {exc}") from exc
        return name, record  # type: ignore[return-value]

    def writer(self, fp: bytes) -> Any:
        if fp not in self.writers and self.registry is not None:
            text = self.registry.lookup(fp.hex())
            if text is not None:
                parsed = fastavro.parse_schema(json.loads(text), named_schemas={})
                if schema_fingerprint(parsed) == fp:
                    self.writers[fp] = parsed
        if fp not in self.writers:
            raise ValueError(f"unknown writer schema, fingerprint {fp.hex()}")
        return self.writers[fp]


@dataclass
class Registry:
    """Ascolto's ``schemas`` topic (key: fingerprint hex, value: canonical JSON), for writers
    newer than these files; read to its end on the first miss of each fingerprint."""

    options: dict[str, Any]
    topic: str
    known: dict[str, str] = field(default_factory=dict)
    tried: set[str] = field(default_factory=set)

    def lookup(self, key: str) -> str | None:
        if key not in self.known and key not in self.tried:
            self.tried.add(key)
            for record in read_from_start(self.options, [self.topic], to_end=True):
                if record.key is not None:
                    self.known[record.key.decode()] = (record.value or b"").decode()
        return self.known.get(key) or None


def read_from_start(options: dict[str, Any], topics: list[str], to_end: bool) -> Iterator[Any]:
    """Every record of ``topics`` from the beginning, without a consumer group; with ``to_end``
    up to their end offsets as of now, else until stopped."""
    consumer = KafkaConsumer(**options, enable_auto_commit=False)
    try:
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not parts:
            return
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts) if to_end else {}
        while not to_end or any(consumer.position(tp) < end[tp] for tp in parts):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                yield from (r for r in records if not to_end or r.offset < end[tp])
    finally:
        consumer.close()


def follow(options: dict[str, Any], topics: list[str], group: str) -> Iterator[Any]:
    """Every new record of ``topics``, as a member of consumer group ``group``, until stopped."""
    consumer = KafkaConsumer(*topics, **options, group_id=group, auto_offset_reset="earliest")
    try:
        yield from consumer
    finally:
        consumer.close()


@dataclass
class LatestView:
    """The two topics read as tables, by the contract's rules (docs/topics.md)."""

    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sla_events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, topic: str, key: str, value: dict[str, Any] | None, revision: int) -> None:
        if topic == "sla.events":  # the latest record per event_id; a tombstone retracts
            if value is None:
                self.sla_events.pop(key, None)
            else:
                self.sla_events[key] = value
            return
        held = self.contacts.get(key)
        if held is not None and held["revision"] > revision:
            return  # a late record or delete older than the one held
        if value is None:
            self.contacts.pop(key, None)
        else:
            self.contacts[key] = value


def output(record: Any, prefix: str, book: SchemaBook, view: LatestView) -> dict[str, Any]:
    """One consumed record as a JSON-able line; applied to ``view``."""
    topic = record.topic[len(prefix) :]
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    key = record.key.decode() if record.key is not None else None
    kind, value = book.decode(record.value) if record.value is not None else (None, None)
    revision = (
        value["revision"] if value and "revision" in value else int(headers.get(REVISION_HEADER, 0))
    )
    if key is not None:
        view.apply(topic, key, value, revision)
    return {
        "topic": topic, "partition": record.partition, "offset": record.offset, "key": key,
        "type": kind, "value": value, "headers": headers,
    }  # fmt: skip


def kafka_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"bootstrap_servers": args.bootstrap.split(",")}
    if args.security_protocol != "PLAINTEXT":
        options |= {"security_protocol": args.security_protocol, "ssl_cafile": args.ssl_cafile}
    if args.sasl_username:
        password = os.environ.get("KAFKA_SASL_PASSWORD")
        if not password:
            raise SystemExit("--sasl-username needs the password in KAFKA_SASL_PASSWORD")
        options |= {
            "sasl_mechanism": args.sasl_mechanism,
            "sasl_plain_username": args.sasl_username,
            "sasl_plain_password": password,
        }
    return options


def arguments(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default=env("ASCOLTO_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    p.add_argument("--topic-prefix", default=env("ASCOLTO_TOPIC_PREFIX", ""))
    p.add_argument("--schemas", type=Path, default=DEFAULT_SCHEMAS, help="the .avsc folder")
    p.add_argument("--group", help="follow as this consumer group (default: read from the start)")
    p.add_argument("--until-end", action="store_true", help="stop at the end offsets at start")
    p.add_argument("--view", action="store_true", help="end with the topics read as tables")
    p.add_argument("--security-protocol", default="PLAINTEXT")
    p.add_argument("--ssl-cafile")
    p.add_argument("--sasl-mechanism", default="SCRAM-SHA-512")
    p.add_argument("--sasl-username", help="the password comes from KAFKA_SASL_PASSWORD")
    args = p.parse_args(argv)
    if args.until_end and args.group:
        p.error("--until-end reads without a group: leave --group out")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    options = kafka_options(args)
    book = SchemaBook(args.schemas)
    book.registry = Registry(options, args.topic_prefix + SCHEMAS_TOPIC)
    topics = [args.topic_prefix + t for t in TOPICS]
    if args.group:
        records = follow(options, topics, args.group)
    else:
        records = read_from_start(options, topics, args.until_end)
    view = LatestView()
    try:
        for record in records:
            try:
                line = output(record, args.topic_prefix, book, view)
            except ValueError as exc:  # not a record of a known type: say so, read on
                where = f"{record.topic}/{record.partition}@{record.offset}"
                print(f"skipped {where}: {exc}", file=sys.stderr)
                continue
            print(json.dumps(line), flush=True)
    except KeyboardInterrupt:
        pass
    if args.view:
        print(json.dumps({"contacts.enriched": view.contacts, "sla.events": view.sla_events}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
