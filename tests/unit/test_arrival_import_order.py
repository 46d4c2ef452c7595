"""Importers publish in event-time order (services.importers.order): a shuffled archive (CSV,
mbox) yields the same contacts in the same order as a sorted one, bad rows first, in bounded
memory."""

from __future__ import annotations

import csv
import io
import mailbox
import random
from pathlib import Path

import pytest

from services.importers import email, order, twitter
from services.importers.common import Refused
from services.importers.order import EventOrder
from tests.support.mbox_archive import MBOX_AGENTS, write_mbox
from tests.support.tweets import T0, at, csv_bytes, tweet
from tests.support.twitter_archive import generate


def contacts_of(data: bytes) -> list[dict]:
    return [dict(i) for i in twitter.read_archive_bytes(data) if not isinstance(i, Refused)]


def shuffled(data: bytes, seed: int) -> bytes:
    """The same CSV records in another order (texts may span lines)."""
    _, *rows = csv.reader(io.StringIO(data.decode()))
    random.Random(seed).shuffle(rows)
    return csv_bytes(rows)


def test_a_shuffled_archive_is_published_in_event_time_order() -> None:
    archive = generate(300, seed=11)  # written shuffled, with repeated rows
    data = archive.csv_text.encode()
    contacts = contacts_of(data)
    keys = [(c["occurred_at"], int(c["source_id"])) for c in contacts]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == len(archive.posts)
    for seed in (1, 2):
        assert contacts_of(shuffled(data, seed)) == contacts  # same contacts, same order


def test_bad_rows_come_first_in_file_order_then_the_rest_by_time_then_id() -> None:
    rows = [
        tweet(30, "c1", True, at(50), "@Acme third"),
        tweet(10, "c1", True, at(50), '@Acme second\nover two lines, "quoted"'),
        ["x", "c1", "True", T0, "bad id", "", ""],
        tweet(20, "c1", True, at(0), "@Acme first"),
        tweet(10, "c1", True, at(50), "@Acme second again"),
        tweet(40, "c2", True, "yesterday", "bad date"),
    ]
    items = list(twitter.read_archive_bytes(b"\xef\xbb\xbf" + csv_bytes(rows)))
    refused = [(i.row, i.reason[:14]) for i in items if isinstance(i, Refused)]
    assert refused[:2] == [(4, "tweet_id: bad "), (7, "unparsable cre")]
    assert [i["source_id"] for i in items if not isinstance(i, Refused)] == ["20", "10", "30"]
    assert items[3]["body"] == '@Acme second\nover two lines, "quoted"'
    repeat = items[4]  # sorted by (created_at, tweet_id, row): right after its first row
    assert isinstance(repeat, Refused) and repeat.row == 6
    assert repeat.reason.startswith("repeat of tweet_id 10 first seen at row 3")


def test_an_archive_larger_than_a_chunk_sorts_through_temporary_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = generate(200, seed=5).csv_text.encode()
    want = contacts_of(data)
    monkeypatch.setattr(order, "CHUNK", 16)  # the module's own setting, read per import
    path = tmp_path / "archive.csv"
    path.write_bytes(data)
    got = [dict(i) for i in twitter.read_archive(path) if not isinstance(i, Refused)]
    assert got == want


def test_event_order_merges_its_spilled_runs() -> None:
    rnd = random.Random(3)
    keys = [
        (rnd.randint(-5, 5), rnd.randint(-2, 2), row, rnd.randint(0, 10**12)) for row in range(500)
    ]
    with EventOrder(chunk=7) as ordered:
        for key in keys:
            ordered.add(*key)
        assert ordered.spilled_runs == 500 // 7
        assert list(ordered) == [(row, offset) for _, _, row, offset in sorted(keys)]


def test_event_order_refuses_an_empty_chunk() -> None:
    with pytest.raises(ValueError, match="chunk must be at least 1"):
        EventOrder(chunk=0)


def mbox_contacts(path: Path) -> list[dict]:
    return [dict(i) for i in email.read_mbox(path, MBOX_AGENTS) if not isinstance(i, Refused)]


def test_a_shuffled_mbox_is_published_in_event_time_order(tmp_path: Path) -> None:
    in_order = tmp_path / "in-order.mbox"
    write_mbox(in_order, n_threads=15, seed=4)
    source = mailbox.mbox(str(in_order))
    messages = [source.get_bytes(key) for key in source.iterkeys()]
    source.close()
    random.Random(9).shuffle(messages)
    shuffled_box = mailbox.mbox(str(tmp_path / "shuffled.mbox"))
    for raw in messages:
        shuffled_box.add(raw)
    shuffled_box.close()

    want = mbox_contacts(in_order)
    assert [c["occurred_at"] for c in want] == sorted(c["occurred_at"] for c in want)
    assert mbox_contacts(tmp_path / "shuffled.mbox") == want
