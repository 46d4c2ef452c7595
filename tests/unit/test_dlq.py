"""``ascolto dlq`` without a broker: dead letters carry what a replay needs, the selection,
the groups, the replay plan (idempotent through the marks), and what ``show`` prints."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from schemas import codec
from services.dlq import show_lines
from services.dlq_select import (
    BadInput,
    Letter,
    Selection,
    Target,
    groups,
    groups_table,
    marker,
    parse_time,
    plan,
    plan_lines,
)
from streams.metrics import WorkerMetrics
from streams.sinks.dead_letter import REPLAY_HEADER, SOURCE_KEY_HEADER, DeadLetter, DeadLetterSender

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
HOUR_MS = 3_600_000
NOW_MS = int(NOW.timestamp() * 1000)
RAW, KEYED, ENRICHED = "contacts.raw", "contacts.keyed", "contacts.enriched"
INPUTS, BY_ID = {RAW, KEYED, ENRICHED}, {ENRICHED}


def letter(offset: int, stage: str = "index", reason: str = "index_mapping", **kw: Any) -> Letter:
    fields: dict[str, Any] = {
        "partition": 3, "offset": offset, "stage": stage, "reason_code": reason,
        "reason": "mapper_parsing_exception", "source_topic": ENRICHED, "source_partition": 5,
        "source_offset": 40 + offset, "original": b"\xc3\x01bytes", "failed_at": NOW_MS,
        "contact_id": f"c{offset}", "source_key": f"c{offset}".encode(),
    }  # fmt: skip
    return Letter(**(fields | kw))


def message(headers: Any) -> SimpleNamespace:
    return SimpleNamespace(
        topic=RAW, partition=2, offset=17, key=b"acme\x1fjane", value=b"orig", headers=headers
    )


@pytest.mark.parametrize(
    "headers", [[(REPLAY_HEADER, b"4:9")], {REPLAY_HEADER: b"4:9"}, (("other", b"x"),), None]
)
def test_a_dead_letter_keeps_the_original_key_and_what_it_replayed(headers: Any) -> None:
    dead = DeadLetter.of_message(message(headers), "route", "validation", "bad", "c1")
    replayed = b"4:9" if headers and REPLAY_HEADER in dict(headers) else None
    assert dead.source_key == b"acme\x1fjane" and dead.replay_of == replayed
    read = Letter.of(1, 8, codec().decode(dead.encode(), expect="DeadLetter"), dead.headers())
    assert (read.source_key, read.replay_of) == (b"acme\x1fjane", "4:9" if replayed else None)
    assert (read.source_topic, read.source_partition, read.source_offset) == (RAW, 2, 17)
    assert (read.original, read.contact_id, read.ref) == (b"orig", "c1", "1:8")


def test_the_sender_sends_the_headers_under_the_contact_id() -> None:
    sent: list[tuple[Any, ...]] = []

    class Recording:
        async def send(self, *args: Any) -> None:
            sent.append(args)

    metrics = WorkerMetrics.create(CollectorRegistry())
    dead = DeadLetter.of_message(message([(REPLAY_HEADER, b"0:1")]), "route", "schema", "x", "c1")
    asyncio.run(DeadLetterSender(Recording(), "dlq", metrics).send([dead]))  # type: ignore[arg-type]
    [(topic, key, _, _, _, headers)] = sent
    assert (topic, key) == ("dlq", b"c1")
    assert headers == [(SOURCE_KEY_HEADER, b"acme\x1fjane"), (REPLAY_HEADER, b"0:1")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-07T10:00:00Z", NOW_MS - 2 * HOUR_MS),
        ("2026-12-07T11:00:00+01:00", NOW_MS - 2 * HOUR_MS),
        ("2026-12-07", NOW_MS - 12 * HOUR_MS),
        ("90m", NOW_MS - HOUR_MS * 3 // 2),
        ("6h", NOW_MS - 6 * HOUR_MS),
        ("3d", NOW_MS - 72 * HOUR_MS),
    ],
)
def test_times_are_iso_with_a_zone_or_an_age(text: str, expected: int) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "error"), [("yesterday", "not a time"), ("2026-12-07T10:00:00", "without a zone")]
)
def test_a_bad_time_is_a_one_line_error(text: str, error: str) -> None:
    with pytest.raises(BadInput, match=error) as info:
        parse_time(text, NOW)
    assert "\n" not in str(info.value)


def test_the_selection_matches_every_option_given() -> None:
    old, new = letter(1, failed_at=NOW_MS - 5 * HOUR_MS), letter(2)
    route = letter(3, stage="route", reason="validation")
    everything = [old, new, route]
    assert Selection().of(everything) == everything
    assert Selection(stage="index").of(everything) == [old, new]
    assert Selection(reason="validation").of(everything) == [route]
    assert Selection(since_ms=NOW_MS - HOUR_MS).of(everything) == [new, route]
    assert Selection(until_ms=NOW_MS - HOUR_MS).of(everything) == [old]
    with pytest.raises(BadInput, match="--since is after --until"):
        Selection(since_ms=NOW_MS, until_ms=NOW_MS - 1)


def test_groups_count_by_stage_and_reason_with_the_replayed_ones() -> None:
    found = groups(
        [
            letter(1, failed_at=NOW_MS - HOUR_MS),
            letter(2, failed_at=NOW_MS),
            letter(3, stage="route", reason="decode", failed_at=NOW_MS - 2 * HOUR_MS),
        ],
        replayed={"3:1"},
    )
    assert [(g.stage, g.reason_code, g.count, g.replayed) for g in found] == [
        ("index", "index_mapping", 2, 1),
        ("route", "decode", 1, 0),
    ]
    assert (found[0].first_ms, found[0].last_ms, found[0].example) == (
        NOW_MS - HOUR_MS, NOW_MS, "3:2"
    )  # fmt: skip
    assert found[0].as_json()["last"] == "2026-12-07T12:00:00+00:00"
    table = groups_table(found).splitlines()
    assert table[0].split() == ["stage", "reason", "count", "replayed", "first", "last", "example"]
    assert table[1].split()[:4] == ["index", "index_mapping", "2", "1"]
    assert groups_table([]) == "no dead letters"


def test_a_replay_goes_back_where_it_came_from_under_its_key() -> None:
    routed = letter(1, stage="route", reason="validation", source_topic=RAW, source_key=b"k\x1fh")
    todo = plan([routed, letter(2)], set(), INPUTS, BY_ID)
    assert todo.replay == [
        (routed, Target(RAW, 5, b"k\x1fh")),
        (letter(2), Target(ENRICHED, 5, b"c2")),
    ]
    assert todo.already == todo.refused == []


def test_what_cannot_be_replayed_is_named_with_its_reason() -> None:
    old_enriched = letter(1, source_key=None)  # keyed by id: the contact id is its key
    old_raw = letter(2, source_topic=RAW, source_key=None)
    directory = letter(3, source_topic="customers")
    tombstone = letter(4, original=b"")
    todo = plan([old_enriched, old_raw, directory, tombstone], set(), INPUTS, BY_ID)
    assert todo.replay == [(old_enriched, Target(ENRICHED, 5, b"c1"))]
    reasons = {x.ref: why for x, why in todo.refused}
    assert "original key was not kept" in reasons["3:2"]
    assert "no stage's input topic" in reasons["3:3"]
    assert "tombstone" in reasons["3:4"]
    assert plan_lines(todo, dry_run=True)[-1] == (
        "would replay: 1, already replayed: 0, not replayable: 3"
    )
    assert plan_lines(todo, dry_run=False, failed={"3:1"}) == [
        *(f"not replayable {x.ref}: {why}" for x, why in todo.refused),
        "replayed: 0, already replayed: 0, not replayable: 3, failed: 1",
    ]


@given(st.sets(st.integers(0, 50), max_size=20), st.sets(st.integers(0, 50), max_size=20))
def test_a_marked_dead_letter_is_never_replayed_again(offsets: set[int], marked: set[int]) -> None:
    letters = [letter(o) for o in sorted(offsets)]
    marks = {f"3:{o}" for o in marked}
    first = plan(letters, marks, INPUTS, BY_ID)
    assert {x.offset for x, _ in first.replay} == offsets - marked
    assert {x.offset for x in first.already} == offsets & marked
    # the run marks what it replayed: the next run replays nothing
    after = plan(letters, marks | {x.ref for x, _ in first.replay}, INPUTS, BY_ID)
    assert after.replay == [] and len(after.already) == len(offsets)


def test_a_mark_says_when_where_and_which_run_without_the_record() -> None:
    value = json.loads(marker(Target(ENRICHED, 5, b"c1"), 812, "run1", NOW_MS))
    assert value == {
        "replayed_at": "2026-12-07T12:00:00+00:00",
        "topic": ENRICHED,
        "partition": 5,
        "offset": 812,
        "run": "run1",
    }


def test_show_prints_the_record_only_when_asked() -> None:
    record: dict[str, Any] = {
        "contact_id": "c1", "source": "s", "source_id": "1", "channel": "chat",
        "direction": "inbound", "kind": "message", "brand": "acme", "customer_handle": "jane",
        "customer_email": None, "conversation_ref": None, "in_reply_to": None, "references": [],
        "occurred_at": NOW_MS, "received_at": NOW_MS, "subject": None, "body": "secret parcel",
        "language": None, "attributes": {},
    }  # fmt: skip
    contact = letter(1, original=codec().encode("Contact", record), replay_of="2:7")
    brief = "\n".join(show_lines(contact, None, body=False))
    assert "a replay of: 2:7" in brief and "replayed: no" in brief and "a Contact" in brief
    assert "secret parcel" not in brief and "jane" not in brief
    full = "\n".join(show_lines(contact, b'{"run": "r"}', body=True))
    assert "secret parcel" in full and 'replayed: {"run": "r"}' in full
    garbage = "\n".join(show_lines(letter(2, original=b"\xff\x00junk"), None, body=True))
    assert "not a record we know" in garbage and "ff 00 6a 75 6e 6b" in garbage


def test_the_command_refuses_a_bad_time_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli import main

    assert main(["dlq", "list", "--since", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ascolto: not a time: 'yesterday'") and err.count("\n") == 1
