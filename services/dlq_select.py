"""``ascolto dlq``, the pure part: dead letters as plain data, selected, grouped, and where each
would be replayed to. No Kafka and no clock here (services/dlq.py reads and writes)."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.sinks.dead_letter import REPLAY_HEADER, SOURCE_KEY_HEADER

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class BadInput(ValueError):
    """An argument the command cannot use; ``str(err)`` is the one-line message."""


def ref_of(partition: int, offset: int) -> str:
    """A dead letter's id: where it is on the dead-letter topic, ``<partition>:<offset>``."""
    return f"{partition}:{offset}"


@dataclass(frozen=True)
class Letter:
    """One record of the dead-letter topic, decoded (``DeadLetter`` and its headers)."""

    partition: int
    offset: int
    stage: str
    reason_code: str
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    original: bytes
    failed_at: int  # epoch ms
    contact_id: str | None = None
    source_key: bytes | None = None  # None: dead-lettered before the key was kept
    replay_of: str | None = None  # the dead letter this record was a replay of

    @property
    def ref(self) -> str:
        return ref_of(self.partition, self.offset)

    @classmethod
    def of(
        cls, partition: int, offset: int, value: Mapping[str, Any], headers: Iterable[Any]
    ) -> Letter:
        found = {name: raw for name, raw in headers}
        replay_of = found.get(REPLAY_HEADER)
        return cls(
            partition=partition,
            offset=offset,
            stage=value["stage"],
            reason_code=value["reason_code"],
            reason=value["reason"],
            source_topic=value["source_topic"],
            source_partition=value["source_partition"],
            source_offset=value["source_offset"],
            original=value["original"],
            failed_at=int(value["failed_at"]),
            contact_id=value.get("contact_id"),
            source_key=found.get(SOURCE_KEY_HEADER),
            replay_of=replay_of.decode(errors="replace") if replay_of is not None else None,
        )


def parse_time(text: str, now: datetime) -> int:
    """``--since``/``--until``: ISO-8601 with a zone (a bare date is midnight UTC), or an age
    before ``now`` (``90m``, ``6h``, ``3d``); epoch ms."""
    ago = _AGO.match(text.strip())
    if ago:
        moment = now - timedelta(seconds=int(ago[1]) * _UNIT_S[ago[2]])
        return int(moment.timestamp() * 1000)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"not a time: {text!r} (ISO-8601 with a zone, or an age: 90m, 6h, 3d)"
        ) from None
    if moment.tzinfo is None:
        if len(text.strip()) > 10:
            raise BadInput(f"time without a zone: {text!r} (add Z or +02:00)")
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command is about: all of them, or those matching every option."""

    stage: str | None = None
    reason: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    def __post_init__(self) -> None:
        if None not in (self.since_ms, self.until_ms) and self.since_ms > self.until_ms:  # type: ignore[operator]
            raise BadInput("--since is after --until: nothing could match")

    def matches(self, letter: Letter) -> bool:
        return (
            (self.stage is None or letter.stage == self.stage)
            and (self.reason is None or letter.reason_code == self.reason)
            and (self.since_ms is None or letter.failed_at >= self.since_ms)
            and (self.until_ms is None or letter.failed_at <= self.until_ms)
        )

    def of(self, letters: Iterable[Letter]) -> list[Letter]:
        return [letter for letter in letters if self.matches(letter)]


@dataclass(frozen=True)
class Group:
    stage: str
    reason_code: str
    count: int
    replayed: int
    first_ms: int
    last_ms: int
    example: str  # a dead letter's id, for `ascolto dlq show`

    def as_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "reason_code": self.reason_code,
            "count": self.count,
            "replayed": self.replayed,
            "first": iso(self.first_ms),
            "last": iso(self.last_ms),
            "example": self.example,
        }


def groups(letters: Iterable[Letter], replayed: Collection[str]) -> list[Group]:
    """Dead letters by stage and reason code, in that order; ``replayed``: the ids marked."""
    by_key: dict[tuple[str, str], list[Letter]] = {}
    for letter in letters:
        by_key.setdefault((letter.stage, letter.reason_code), []).append(letter)
    out = []
    for (stage, reason), same in sorted(by_key.items()):
        times = [letter.failed_at for letter in same]
        last = max(same, key=lambda letter: (letter.failed_at, letter.partition, letter.offset))
        done = sum(1 for letter in same if letter.ref in replayed)
        out.append(Group(stage, reason, len(same), done, min(times), max(times), last.ref))
    return out


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def groups_table(found: Iterable[Group]) -> str:
    rows = [("stage", "reason", "count", "replayed", "first", "last", "example")]
    for g in found:
        counts = (str(g.count), str(g.replayed))
        rows.append((g.stage, g.reason_code, *counts, iso(g.first_ms), iso(g.last_ms), g.example))
    if len(rows) == 1:
        return "no dead letters"
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(n) for c, n in zip(r, widths, strict=False)), r[-1]]) for r in rows
    )


@dataclass(frozen=True)
class Target:
    """Where a dead letter's original record goes back to: its own topic, partition and key."""

    topic: str
    partition: int
    key: bytes | None


@dataclass(frozen=True)
class Plan:
    replay: list[tuple[Letter, Target]]
    already: list[Letter]  # marked as replayed by an earlier run
    refused: list[tuple[Letter, str]]  # cannot be replayed, and why


def plan(
    letters: Iterable[Letter],
    replayed: Collection[str],
    inputs: Collection[str],
    keyed_by_id: Collection[str],
) -> Plan:
    """What a replay of ``letters`` does. Each goes back to the topic and partition it was read
    from, under its original key; only into ``inputs``, the topics a stage consumes. A dead
    letter made before the original key was kept falls back on its contact id where the
    source topic is keyed by the document's id (``keyed_by_id``); elsewhere the key places the
    customer's state, and a guess would split it: refused."""
    out = Plan([], [], [])
    for letter in letters:
        if letter.ref in replayed:
            out.already.append(letter)
        elif letter.source_topic not in inputs:
            out.refused.append((letter, f"{letter.source_topic} is no stage's input topic"))
        elif not letter.original:
            out.refused.append((letter, "no original bytes (a tombstone)"))
        elif letter.source_key is not None:
            target = Target(letter.source_topic, letter.source_partition, letter.source_key)
            out.replay.append((letter, target))
        elif letter.source_topic in keyed_by_id and letter.contact_id:
            key = letter.contact_id.encode()
            out.replay.append((letter, Target(letter.source_topic, letter.source_partition, key)))
        else:
            out.refused.append((letter, "its original key was not kept (an older dead letter)"))
    return out


def marker(target: Target, offset: int, run: str, at_ms: int) -> bytes:
    """The value recording one replay on the marker topic (keyed by the dead letter's id)."""
    where = {"topic": target.topic, "partition": target.partition, "offset": offset}
    return json.dumps({"replayed_at": iso(at_ms), **where, "run": run}).encode()


def plan_lines(done: Plan, dry_run: bool, failed: Collection[str] = ()) -> list[str]:
    """What a replay did (or would do); ``failed``: the ids Kafka did not acknowledge."""
    verb = "would replay" if dry_run else "replayed"
    went = [(letter, target) for letter, target in done.replay if letter.ref not in failed]
    lines = [
        f"{verb} {letter.ref} ({letter.stage}/{letter.reason_code}) -> "
        f"{target.topic}[{target.partition}]"
        for letter, target in went
    ]
    lines += [f"not replayable {letter.ref}: {why}" for letter, why in done.refused]
    lines.append(
        f"{verb}: {len(went)}, already replayed: {len(done.already)}, "
        f"not replayable: {len(done.refused)}" + (f", failed: {len(failed)}" if failed else "")
    )
    return lines


def preview(original: bytes, limit: int = 120) -> str:
    """Bytes that are not a known Avro record: as text when they read as UTF-8, else hex."""
    cut = original[:limit]
    more = f" … ({len(original)} bytes)" if len(original) > limit else ""
    try:
        return repr(cut.decode()) + more
    except UnicodeDecodeError:
        return cut.hex(" ") + more
