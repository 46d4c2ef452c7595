"""Twitter importer: a support CSV (the Kaggle archive's columns) -> ingest contact dicts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.importers import twitter
from services.importers.common import Progress, Refused
from tests.support.tweets import HEADER, T0, T0_MS, at, csv_bytes, tweet


def run(rows, **kw) -> tuple[dict[str, dict], list[Refused]]:
    data = rows if isinstance(rows, bytes) else csv_bytes(rows)
    contacts, refused = {}, []
    for item in twitter.read_archive_bytes(data, **kw):
        if isinstance(item, Refused):
            refused.append(item)
        else:
            contacts[item["source_id"]] = item
    return contacts, refused


def test_quoted_multiline_text_with_commas_and_quotes():
    text = '@AcmeSupport my order, "1234",\nnever arrived\r\nat all'
    contacts, refused = run([tweet(1, "115712", True, T0, text), tweet(2, "9", True, T0, "x y z")])
    assert refused == []
    assert contacts["1"]["body"] == text
    assert contacts["2"]["body"] == "x y z"


def test_contact_fields_for_an_inbound_tweet():
    contacts, _ = run([tweet(1, "115712", True, T0, "@acmesupport hi there")])
    assert contacts["1"] == {
        "source": "twitter",
        "source_id": "1",
        "channel": "social",
        "direction": "inbound",
        "kind": "message",
        "brand": "unknown",
        "customer_handle": "115712",
        "customer_email": None,
        "conversation_ref": None,
        "in_reply_to": None,
        "references": [],
        "occurred_at": T0_MS,
        "subject": None,
        "body": "@acmesupport hi there",
        "language": None,
        "attributes": {"author_id": "115712"},
    }


def test_float_ids_are_normalised():
    rows = [
        tweet("119237", "115712", True, T0, "@Acme help me now", responses="119238.0"),
        tweet("119238.0", "Acme", False, at(30), "@115712 sure", parent="119237.0"),
        tweet("119239", "115712", True, at(60), "@Acme thanks a lot", parent="1.19238e+05"),
    ]
    contacts, refused = run(rows)
    assert refused == []
    assert sorted(contacts) == ["119237", "119238", "119239"]
    assert contacts["119238"]["in_reply_to"] == "119237"
    assert contacts["119239"]["in_reply_to"] == "119238"
    assert contacts["119237"]["attributes"]["response_tweet_ids"] == "119238"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12), (" 12.0 ", 12), ("12.", 12), ("1.2e+01", 12), ("", None)],
)
def test_normalise_id(value, expected):
    assert twitter.normalise_id(value) == expected


@pytest.mark.parametrize("value", ["abc", "12.5", "-3", "nan", "1e400x", "1e30", str(2**63)])
def test_normalise_id_rejects(value):
    with pytest.raises(ValueError):
        twitter.normalise_id(value)


def test_created_at_offsets_are_converted_to_utc():
    assert twitter.parse_created_at(T0) == T0_MS
    assert twitter.parse_created_at("Wed Nov 01 00:10:47 +0200 2017") == T0_MS
    assert twitter.parse_created_at("Tue Oct 31 17:10:47 -0500 2017") == T0_MS
    for bad in (
        "2017-10-31T22:10:47Z",
        "Tue Foo 31 22:10:47 +0000 2017",
        "Tue Feb 30 1:2:3 +0000 2017",
    ):
        with pytest.raises(ValueError):
            twitter.parse_created_at(bad)


def test_inbound_brand_is_the_earliest_brand_reply_even_when_it_comes_later_in_the_file():
    rows = [
        tweet(2, "LateBrand", False, at(120), "@c1 we are late", parent=1),
        tweet(1, "c1", True, T0, "@SomeoneElse where is my parcel"),
        tweet(3, "EarlyBrand", False, at(30), "@c1 we are early", parent=1),
    ]
    contacts, _ = run(rows)
    assert contacts["1"]["brand"] == "EarlyBrand"


def test_created_at_tie_between_brand_replies_goes_to_the_smaller_tweet_id():
    rows = [
        tweet(9, "B", False, at(30), "@c1 b", parent=1),
        tweet(1, "c1", True, T0, "hello out there"),
        tweet(8, "A", False, at(30), "@c1 a", parent=1),
    ]
    assert run(rows)[0]["1"]["brand"] == "A"


def test_inbound_brand_from_the_outbound_tweet_it_answers():
    rows = [
        tweet(1, "c1", True, T0, "@Acme my order 12 is late"),
        tweet(2, "Acme", False, at(30), "@c1 DM us", parent=1),
        tweet(3, "c1", True, at(60), "done, sent you a DM", parent="2.0"),
    ]
    contacts, _ = run(rows)
    assert contacts["3"]["brand"] == "Acme"
    assert contacts["3"]["customer_handle"] == "c1"


def test_inbound_brand_from_first_mention_of_a_known_brand_handle():
    rows = [
        tweet(1, "c1", True, T0, "@friend @nobody @ACMESUPPORT @Globex my order 12 never came"),
        tweet(5, "AcmeSupport", False, at(30), "@c9 hi", parent=4),
        tweet(4, "c9", True, T0, "@AcmeSupport unrelated thing here"),
        tweet(6, "Globex", False, at(30), "@c9 hi", parent=4),
    ]
    contacts, _ = run(rows)
    assert contacts["1"]["brand"] == "AcmeSupport"  # spelled as the brand writes itself


def test_inbound_brand_unknown_when_nothing_tells():
    rows = [
        tweet(1, "c1", True, T0, "@NotABrand my order never came"),
        tweet(2, "c2", True, at(5), "@c1 same here, what a mess", parent=1),
    ]
    contacts, _ = run(rows)
    assert contacts["1"]["brand"] == "unknown"
    assert contacts["2"]["brand"] == "unknown"  # its parent is inbound: no brand from it


def test_outbound_customer_is_the_nearest_inbound_ancestor():
    rows = [
        tweet(4, "AcmeSupport", False, at(90), "@c1 and also this", parent=3),
        tweet(3, "AcmeSupport", False, at(60), "@c1 one more thing", parent=2),
        tweet(2, "AcmeSupport", False, at(30), "@c1 hello", parent=1),
        tweet(1, "c1", True, T0, "@AcmeSupport help please now"),
        tweet(5, "AcmeSupport", False, at(30), "@c7 hello", parent=999),
        tweet(6, "AcmeSupport", False, at(30), "@c7 hello"),
    ]
    contacts, _ = run(rows)
    assert [contacts[i]["customer_handle"] for i in "234"] == ["c1", "c1", "c1"]
    assert [contacts[i]["brand"] for i in "234"] == ["AcmeSupport"] * 3
    assert contacts["4"]["direction"] == "outbound"
    assert contacts["5"]["customer_handle"] == "unknown"  # parent not in the file
    assert contacts["6"]["customer_handle"] == "unknown"


def test_reply_cycles_do_not_hang():
    rows = [
        tweet(1, "A", False, T0, "@x a", parent=2),
        tweet(2, "B", False, at(1), "@x b", parent=1),
    ]
    contacts, _ = run(rows)
    assert contacts["1"]["customer_handle"] == "unknown"


THREAD = [
    tweet(1, "c1", True, T0, "@acmesupport order 1 lost,\nplease help"),
    tweet(2, "AcmeSupport", False, at(30), "@c1 DM us", parent=1),
    tweet(3, "c1", True, at(60), "@AcmeSupport done", parent="2.0"),
    tweet(4, "AcmeSupport", False, at(90), "@c1 thanks", parent=3),
    tweet(5, "c2", True, at(5), "@ACMESUPPORT where is order 2"),
    tweet(6, "c3", True, at(6), "@Globex my bill 3 is wrong"),
    tweet(7, "Globex", False, at(200), "@c3 sorry", parent=6),
    tweet(8, "Globex", False, at(100), "@c3 looking", parent=6),
    tweet(9, "c3", True, at(300), "@Globex and @AcmeSupport both failed me", parent=7),
]


@settings(max_examples=40, deadline=None)
@given(st.permutations(THREAD))
def test_row_order_does_not_change_the_contacts(rows):
    assert run(rows) == run(THREAD)


def test_out_of_order_file_maps_every_rule():
    contacts, refused = run(list(reversed(THREAD)))
    assert refused == []
    assert {k: (c["brand"], c["customer_handle"]) for k, c in contacts.items()} == {
        "1": ("AcmeSupport", "c1"),
        "2": ("AcmeSupport", "c1"),
        "3": ("AcmeSupport", "c1"),
        "4": ("AcmeSupport", "c1"),
        "5": ("AcmeSupport", "c2"),
        "6": ("Globex", "c3"),
        "7": ("Globex", "c3"),
        "8": ("Globex", "c3"),
        "9": ("Globex", "c3"),
    }


def test_bad_rows_are_refused_with_row_and_reason_and_the_rest_imported():
    good = tweet(1, "c1", True, T0, "@Acme a\nmulti-line\ntext")
    data = csv_bytes(
        [
            good,  # row 2 (spans three lines)
            tweet("", "c1", True, T0, "no id"),  # row 3
            tweet(3, "c1", True, "yesterday", "bad date"),  # row 4
            ["4", "c1", "True", T0, "too few"],  # row 5
            HEADER,  # row 6
            [*tweet(7, "c1", True, T0, "bad inbound")[:2], "maybe", T0, "x", "", ""],  # row 7
            tweet(8, "", True, T0, "no author"),  # row 8
            tweet(9, "c1", True, T0, "answers itself", parent=9),  # row 9
            tweet(10, "c1", True, T0, "bad parent", parent="abc"),  # row 10
            tweet("x1", "c1", True, T0, "bad id"),  # row 11
            good,  # row 12: exact repeat
            tweet(1, "c2", True, T0, "other"),  # row 13: conflicting repeat
            tweet(14, "c1", True, T0, "fine, after all that"),  # row 14
        ]
    )
    contacts, refused = run(data)
    assert sorted(contacts) == ["1", "14"]
    assert contacts["1"]["customer_handle"] == "c1"  # the first occurrence is kept
    reasons = {r.row: r.reason for r in refused}
    assert reasons == {
        3: "missing tweet_id",
        4: "unparsable created_at 'yesterday'",
        5: "expected 7 columns, got 5",
        6: "repeated header row",
        7: "bad inbound 'maybe' (want True/False)",
        8: "missing author_id",
        9: "tweet answers itself (in_response_to_tweet_id == tweet_id)",
        10: "in_response_to_tweet_id: bad id 'abc'",
        11: "tweet_id: bad id 'x1'",
        12: "repeat of tweet_id 1 first seen at row 2",
        13: "repeat of tweet_id 1 first seen at row 2, differing in author_id (first row kept)",
    }
    refs = {r.row: r.ref for r in refused}
    assert refs[12] == "1" and refs[7] == "7" and refs[3] is None


def test_repeats_can_be_kept_for_ingest_to_deduplicate():
    row = tweet(1, "c1", True, T0, "@Acme hello there you")
    items = list(twitter.read_archive_bytes(csv_bytes([row, row]), keep_repeats=True))
    assert len(items) == 2 and items[0] == items[1]


def test_broken_csv_quoting_is_refused_not_fatal():
    data = csv_bytes([tweet(1, "c1", True, T0, "ok then fine")]) + b'2,c1,True,"' + b"x" * 200_000
    data += b"\n" + csv_bytes([tweet(3, "c1", True, T0, "after the break")], header=False)
    contacts, refused = run(data)
    assert "1" in contacts
    assert refused and refused[0].row == 3 and "CSV error" in refused[0].reason


def test_headerless_file_in_kaggle_order_and_reordered_header():
    rows = [tweet(1, "c1", True, T0, "@Acme hi hi hi")]
    contacts, refused = run(csv_bytes(rows, header=False))
    assert list(contacts) == ["1"] and refused == []

    reordered = io.StringIO()
    writer = csv.writer(reordered, lineterminator="\n")
    writer.writerow(["extra", *reversed(HEADER)])
    writer.writerow(["zzz", *reversed(rows[0])])
    contacts, refused = run(reordered.getvalue().encode())
    assert refused == [] and contacts["1"]["body"] == "@Acme hi hi hi"


def test_unusable_header_is_reported():
    data = b"a,b,c\n" + csv_bytes([tweet(1, "c1", True, T0, "@Acme hi hi hi")], header=False)
    contacts, refused = run(data)
    assert list(contacts) == ["1"]
    assert refused[0].row == 1 and refused[0].reason.startswith("no usable header")


def test_progress_covers_both_passes_and_the_file_reader(tmp_path: Path):
    rows = [tweet(i, "c1", True, T0, f"@Acme message number {i}") for i in range(1, 26)]
    data = csv_bytes(rows)
    path = tmp_path / "archive.csv"
    path.write_bytes(b"\xef\xbb\xbf" + data)  # with a BOM, as spreadsheet exports write
    seen: list[Progress] = []
    items = list(twitter.read_archive(path, on_progress=seen.append, progress_every=10))
    assert len(items) == 25 and not any(isinstance(i, Refused) for i in items)
    assert [p.phase for p in seen] == ["index"] * 3 + ["emit"] * 3
    size = path.stat().st_size
    assert all(p.bytes_total == 2 * size for p in seen)
    assert [p.bytes_done for p in seen] == sorted(p.bytes_done for p in seen)
    assert seen[2].bytes_done == size and seen[-1].bytes_done == 2 * size
    assert seen[-1].fraction == 1.0
