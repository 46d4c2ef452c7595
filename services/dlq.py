"""``ascolto dlq list | show ID | replay``: what failed, grouped; one dead letter in full; the
original records sent back to the stage that refused them, each dead letter at most once.

A replay republishes a dead letter's original bytes, under its original key, to the topic and
partition it was read from, with the header ``ascolto-replay-of: <partition>:<offset>``; once
Kafka has acknowledged it, the dead letter's id is written to the compacted marker topic
``contacts.dlq.replayed``, and later runs skip it. A crash between the two replays it again:
harmless, since every stage is idempotent (an exact duplicate contact is dropped; documents
are written by id and revision). The selection is pure: services/dlq_select.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from ascolto.clients import kafka_options
from ascolto.config import KafkaSettings, Settings
from schemas import DecodeError, codec
from services.dlq_select import (
    REPLAY_HEADER,
    BadInput,
    Letter,
    Plan,
    Selection,
    groups,
    groups_table,
    iso,
    marker,
    parse_time,
    plan,
    plan_lines,
    preview,
    ref_of,
)

STAGES = ("route", "thread", "index")
REASONS = ("decode", "schema", "validation", "enrichment", "index_mapping")


def records(
    k: KafkaSettings, topic: str, missing_ok: bool = False, timeout_s: float = 30
) -> Iterator[Any]:
    """Every record of ``topic`` still kept, up to its end offsets when called (what is
    appended meanwhile is left for the next run), without a consumer group. A topic that does
    not exist is an error, or nothing with ``missing_ok``."""
    consumer = KafkaConsumer(**kafka_options(k), enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not tps and missing_ok:
            return
        if not tps:
            raise BadInput(f"no topic {topic} (run `ascolto setup`)")
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} took over {timeout_s:.0f}s")
            for tp, batch in consumer.poll(timeout_ms=500).items():
                yield from (r for r in batch if r.offset < ends[tp])
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


def read_letters(k: KafkaSettings) -> list[Letter]:
    return [
        Letter.of(r.partition, r.offset, codec().decode(r.value, expect="DeadLetter"), r.headers)
        for r in records(k, k.dlq)
        if r.value is not None
    ]


def read_replayed(k: KafkaSettings, missing_ok: bool = True) -> dict[str, bytes]:
    """The marker topic as a table: dead letter id -> the latest record of its replay (none
    before the first replay's `ascolto setup` made the topic)."""
    table: dict[str, bytes] = {}
    for r in records(k, k.dlq_replayed, missing_ok):
        if r.key is None:
            continue
        if r.value is None:
            table.pop(r.key.decode(), None)
        else:
            table[r.key.decode()] = r.value
    return table


def stage_inputs(k: KafkaSettings) -> tuple[set[str], set[str]]:
    """The topics a stage consumes; of those, the ones keyed by their document's id."""
    by_id = {k.enriched, k.conversations, k.sla_events}
    return {k.raw, k.keyed} | by_id, by_id


class Replay:
    """One run of ``ascolto dlq replay``: republish, then mark what Kafka acknowledged."""

    def __init__(self, settings: Settings) -> None:
        self.k = settings.kafka
        self.run_id = uuid.uuid4().hex[:12]

    def plan(self, selection: Selection) -> Plan:
        inputs, by_id = stage_inputs(self.k)
        letters = selection.of(read_letters(self.k))
        replayed = read_replayed(self.k, missing_ok=False)  # where the markers go
        return plan(letters, replayed.keys(), inputs, by_id)

    def run(self, todo: Plan) -> list[tuple[Letter, str]]:
        """Replay ``todo``; mark each record Kafka acknowledged. Returns those it did not
        (left unmarked: the next run sends them), with Kafka's error."""
        if not todo.replay:
            return []
        failed: list[tuple[Letter, str]] = []
        producer = KafkaProducer(**kafka_options(self.k), acks="all")
        try:
            sent = [
                (letter, target, producer.send(
                    target.topic, value=letter.original, key=target.key,
                    partition=target.partition, headers=[(REPLAY_HEADER, letter.ref.encode())],
                ))
                for letter, target in todo.replay
            ]  # fmt: skip
            producer.flush()
            now = int(time.time() * 1000)
            for letter, target, future in sent:
                try:
                    offset = future.get(timeout=30).offset
                except KafkaError as exc:
                    failed.append((letter, str(exc)))
                    continue
                value = marker(target, offset, self.run_id, now)
                producer.send(self.k.dlq_replayed, key=letter.ref.encode(), value=value)
            producer.flush()
        finally:
            producer.close()
        return failed


def _selection(args: argparse.Namespace) -> Selection:
    now = datetime.now(UTC)
    return Selection(
        stage=args.stage,
        reason=args.reason,
        since_ms=parse_time(args.since, now) if args.since else None,
        until_ms=parse_time(args.until, now) if args.until else None,
    )


def _list(settings: Settings, args: argparse.Namespace) -> int:
    k = settings.kafka
    found = groups(_selection(args).of(read_letters(k)), read_replayed(k).keys())
    if args.format == "json":
        print(json.dumps([g.as_json() for g in found], indent=2))
    else:
        print(groups_table(found))
    return 0


def show_lines(letter: Letter, marked: bytes | None, body: bool) -> list[str]:
    lines = [
        f"id: {letter.ref}",
        f"stage: {letter.stage}",
        f"reason: {letter.reason_code}: {letter.reason}",
        f"source: {letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
        f"failed at: {iso(letter.failed_at)}",
        f"contact id: {letter.contact_id or '-'}",
        f"a replay of: {letter.replay_of or '-'}",
        f"replayed: {marked.decode() if marked else 'no'}",
    ]
    try:
        schema, record = codec().decode_any(letter.original)
    except DecodeError as exc:
        lines.append(f"original: {len(letter.original)} bytes, not a record we know ({exc})")
        if body:
            lines.append(f"bytes: {preview(letter.original)}")
        return lines
    lines.append(f"original: {len(letter.original)} bytes, a {schema}")
    if body:
        key = letter.source_key.decode(errors="replace") if letter.source_key else "-"
        lines.append(f"key: {key!r}")
        lines.append(json.dumps(record, indent=2, default=_jsonable, ensure_ascii=False))
    return lines


def _jsonable(value: object) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def _show(settings: Settings, args: argparse.Namespace) -> int:
    k = settings.kafka
    wanted = args.id.strip()
    letters = [letter for letter in read_letters(k) if wanted in (letter.ref, letter.contact_id)]
    if not letters:
        print(
            f"ascolto: no dead letter {wanted!r} (an id from `ascolto dlq list`)", file=sys.stderr
        )
        return 1
    replayed = read_replayed(k)
    blocks = [show_lines(letter, replayed.get(letter.ref), args.body) for letter in letters]
    print("\n\n".join("\n".join(block) for block in blocks))
    return 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    replay = Replay(settings)
    todo = replay.plan(_selection(args))
    failed = [] if args.dry_run else replay.run(todo)
    print("\n".join(plan_lines(todo, args.dry_run, {letter.ref for letter, _ in failed})))
    for letter, error in failed:
        print(f"ascolto: {letter.ref} not acknowledged, not marked: {error}", file=sys.stderr)
    return 1 if failed else 0


def _dead_letter_id(text: str) -> str:
    partition, _, offset = text.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        return text  # a contact id
    return ref_of(int(partition), int(offset))


def _run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return int(args.dlq(settings, args))
    except BadInput as exc:
        print(f"ascolto: {exc}", file=sys.stderr)
        return 2


def _selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", choices=STAGES, help="only those this stage refused")
    parser.add_argument("--reason", choices=REASONS, help="only those with this reason code")
    parser.add_argument("--since", help="failed at or after: ISO-8601, or an age (6h, 3d)")
    parser.add_argument("--until", help="failed at or before: ISO-8601, or an age")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dlq = sub.add_parser("dlq", help="dead letters: list, show, replay (docs/runbook.md)")
    dsub = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dsub.add_parser("list", help="dead letters by stage and reason, replayed or not")
    _selection_options(listing)
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(func=_run, dlq=_list)
    show = dsub.add_parser("show", help="one dead letter in full (its record only with --body)")
    show.add_argument("id", type=_dead_letter_id, help="<partition>:<offset>, or a contact id")
    show.add_argument("--body", action="store_true", help="print the original record too")
    show.set_defaults(func=_run, dlq=_show)
    replay = dsub.add_parser(
        "replay", help="send the originals back to the stage that refused them, once each"
    )
    _selection_options(replay)
    replay.add_argument("--dry-run", action="store_true", help="say what would go; send nothing")
    replay.set_defaults(func=_run, dlq=_replay)
