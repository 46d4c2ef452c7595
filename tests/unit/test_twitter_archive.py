"""The test-archive generator: deterministic, realistic, and its ground truth consistent.

The answered/response-time oracle here is a deliberately naive re-derivation used
only to check the generator's own bookkeeping; the expected figures themselves
come from the generator.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy
import pytest

from services.importers import email as mail
from services.importers import twitter
from services.importers.common import Refused
from tests.support.archive_texts import letters_key
from tests.support.archive_truth import Figures, Post
from tests.support.mbox_archive import MBOX_AGENTS, MBOX_BRAND, write_mbox
from tests.support.twitter_archive import NEAR_DUPLICATE_WINDOW, Archive, generate

N = 1500


@pytest.fixture(scope="module")
def archive() -> Archive:
    return generate(N, seed=42)


def rows_of(archive: Archive) -> list[list[str]]:
    return list(csv.reader(io.StringIO(archive.csv_text)))


def check_figures(expected: dict[str, Figures], total_messages: int) -> None:
    assert sum(f.messages for f in expected.values()) == total_messages
    for brand, f in expected.items():
        assert f.answered + f.unanswered + f.duplicates == f.messages, brand
        assert len(f.response_times) == f.answered, brand
        assert f.response_times == sorted(f.response_times)
        assert all(t >= 5 for t in f.response_times), brand
        if f.response_times:
            assert f.p50_seconds == float(numpy.percentile(f.response_times, 50))
            assert f.p90_seconds == float(numpy.percentile(f.response_times, 90))
        else:
            assert f.p50_seconds is None and f.p90_seconds is None


def oracle_answered_at(posts: list[Post]) -> dict[str, int]:
    """Naive: each brand reply, earliest first, answers every not-yet-answered owed
    customer message among its ancestors."""
    by_id = {p.id: p for p in posts}
    answered: dict[str, int] = {}
    for reply in sorted((p for p in posts if not p.inbound), key=lambda p: (p.at, int(p.id))):
        parent = reply.parent
        while parent is not None and parent in by_id:
            p = by_id[parent]
            if p.inbound and not p.near_duplicate and p.id not in answered:
                answered[p.id] = reply.at
            parent = p.parent
    return answered


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_same_archive_and_figures():
    a, b = generate(300, seed=7), generate(300, seed=7)
    assert a.csv_text == b.csv_text and a.expected == b.expected
    assert generate(300, seed=8).csv_text != a.csv_text


def test_deterministic_across_processes_whatever_the_hash_seed():
    code = (
        "import hashlib; from tests.support.twitter_archive import generate; "
        "a = generate(200, 3); print(hashlib.sha256(a.csv_text.encode()).hexdigest(), "
        "sorted((b, f.messages, f.answered, f.p90_seconds) for b, f in a.expected.items()))"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        outputs.add(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    assert len(outputs) == 1


# --- figures --------------------------------------------------------------------------------


def test_expected_figures_are_internally_consistent(archive: Archive):
    check_figures(archive.expected, N)
    assert 3 <= len(archive.brands) <= 5
    assert sorted(archive.expected) == archive.brands
    totals = Counter()
    for f in archive.expected.values():
        totals.update(duplicates=f.duplicates, answered=f.answered, unanswered=f.unanswered)
    assert all(totals[k] > 0 for k in ("duplicates", "answered", "unanswered"))


def test_ground_truth_agrees_with_a_naive_ancestor_walk(archive: Archive):
    assert oracle_answered_at(list(archive.posts.values())) == archive.answered_at


def test_small_archives_hold_exactly_the_asked_number_of_messages():
    for n in (1, 2, 5, 17):
        a = generate(n, seed=n)
        check_figures(a.expected, n)


# --- realism --------------------------------------------------------------------------------


def test_the_csv_looks_like_the_kaggle_dataset(archive: Archive):
    rows = rows_of(archive)
    assert rows[0] == list(twitter.COLUMNS)
    data = rows[1:]
    assert len(data) == len(archive.posts) + archive.repeated_rows
    assert all(len(r) == 7 for r in data)
    assert any("\n" in r[4] for r in data) and any("," in r[4] for r in data)
    assert any(r[6].endswith(".0") for r in data)  # float ids, as pandas writes them
    assert any("," in r[5] for r in data)  # a tweet with several responses
    times = [twitter.parse_created_at(r[3]) for r in data]
    assert times != sorted(times)  # shuffled
    ids = Counter(r[0] for r in data)
    repeated = [i for i, n in ids.items() if n > 1]
    assert len(repeated) == archive.repeated_rows
    for tid in repeated:  # exact duplicates: the very same row
        assert len({tuple(r) for r in data if r[0] == tid}) == 1


def test_threads_replies_and_timing(archive: Archive):
    posts = archive.posts
    brand_replies = [p for p in posts.values() if not p.inbound]
    assert all(p.parent in posts for p in brand_replies)
    assert all(p.at - posts[p.parent].at >= 5 for p in posts.values() if p.parent)
    assert any(
        t > 3600 for t in (archive.answered_at[i] - posts[i].at for i in archive.answered_at)
    )
    depth = Counter()
    for p in posts.values():
        d, q = 0, p
        while q.parent:
            d, q = d + 1, posts[q.parent]
        depth[d] += 1
    assert max(depth) >= 3  # customer -> brand -> customer -> brand
    customers = Counter(p.customer for p in posts.values() if p.inbound)
    assert len(customers) > 100 and max(customers.values()) > 1
    assert any(  # a customer following up on their own tweet before any answer
        p.inbound and p.parent and posts[p.parent].inbound for p in posts.values()
    )


def test_customer_texts_are_judgeable_and_mention_the_brand(archive: Archive):
    for p in archive.posts.values():
        if p.inbound:
            first = p.text.split()[0]
            assert first.lower() == f"@{p.brand}".lower()
            assert len(letters_key(p.text).split()) >= 3


def test_near_duplicates_and_no_accidental_ones(archive: Archive):
    posts = sorted(archive.posts.values(), key=lambda p: (p.at, int(p.id)))
    originals: dict[tuple[str, str], list[Post]] = {}
    near = 0
    for p in (p for p in posts if p.inbound):
        key = (p.customer, letters_key(p.text))
        earlier = originals.setdefault(key, [])
        if p.near_duplicate:
            near += 1
            assert p.parent is None
            assert earlier and not earlier[0].near_duplicate
            assert p.at - earlier[0].at < NEAR_DUPLICATE_WINDOW
            assert p.text != earlier[0].text
            assert p.id not in archive.answered_at
        else:
            assert not earlier, f"accidental near-duplicate: {p.text!r}"
        earlier.append(p)
    assert near == sum(f.duplicates for f in archive.expected.values()) > 0


def test_some_brands_are_known_only_by_mention(archive: Archive):
    posts = archive.posts
    replied_to = {p.parent for p in posts.values() if not p.inbound}
    mention_only = [
        p
        for p in posts.values()
        if p.inbound and p.id not in replied_to and (p.parent is None or posts[p.parent].inbound)
    ]
    assert len(mention_only) > 10


# --- the importer over generated archives ---------------------------------------------------


def test_importer_recovers_the_generators_brand_and_customer_for_every_tweet(
    archive: Archive, tmp_path: Path
):
    path = archive.write(tmp_path / "archive.csv")
    contacts, refused = {}, []
    for item in twitter.read_archive(path):
        if isinstance(item, Refused):
            refused.append(item)
        else:
            contacts[item["source_id"]] = item
    assert len(refused) == archive.repeated_rows
    assert all(r.reason.startswith("repeat of tweet_id") for r in refused)
    assert contacts.keys() == archive.posts.keys()
    for tid, c in contacts.items():
        p = archive.posts[tid]
        assert c["direction"] == ("inbound" if p.inbound else "outbound")
        assert (c["brand"], c["customer_handle"]) == (p.brand, p.customer)
        assert c["in_reply_to"] == p.parent
        assert c["occurred_at"] == p.at * 1000
        assert c["body"] == p.text
    inbound = Counter(c["brand"] for c in contacts.values() if c["direction"] == "inbound")
    assert inbound == {b: f.messages for b, f in archive.expected.items()}


def test_generated_mbox_imports_with_consistent_figures(tmp_path: Path):
    path = tmp_path / "support.mbox"
    expected = write_mbox(path, n_threads=25, seed=5)
    assert write_mbox(tmp_path / "again.mbox", n_threads=25, seed=5) == expected
    assert (tmp_path / "again.mbox").read_bytes() == path.read_bytes()
    items = list(mail.read_mbox(path, MBOX_AGENTS))
    assert not [i for i in items if isinstance(i, Refused)]
    assert list(expected) == [MBOX_BRAND]
    figures = expected[MBOX_BRAND]
    inbound = [c for c in items if c["direction"] == "inbound"]
    check_figures(expected, len(inbound))
    assert figures.answered and figures.unanswered and figures.duplicates
    assert {c["brand"] for c in items} == {MBOX_BRAND}
    outbound = [c for c in items if c["direction"] == "outbound"]
    customers = {c["customer_email"] for c in inbound}
    assert all(c["customer_email"] in customers for c in outbound)
    assert all(c["customer_handle"] == c["customer_handle"].lower() for c in items)
    by_id = {c["source_id"]: c for c in items}
    for c in items:  # threads: every reply's parent is in the box, References end with it
        if c["in_reply_to"]:
            assert c["in_reply_to"] in by_id and c["references"][-1] == c["in_reply_to"]
            assert c["occurred_at"] > by_id[c["in_reply_to"]]["occurred_at"]
