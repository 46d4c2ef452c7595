"""Any arrival order, any age: an archive spanning four months, customers whose history spans
more than the 30-day retention, imported once in file order and once shuffled, into two
pipelines: the reports, and every customer message's document, are identical. A contact
that then comes too late for its customer's timeline is dead-lettered with its reason and
changes no figure."""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch.helpers import scan

from ascolto.config import Settings
from bench.worker_metrics import scrape, total
from services.client import post_contacts
from services.importers.common import contact
from services.importers.run import run_import
from services.importers.twitter import COLUMNS, SOURCE, read_archive
from services.observe import read_topic, wait_settled
from services.report import GROUPINGS
from tests.support.report_checks import report
from tests.support.stack import Pipeline, make_pipeline, teardown_pipeline
from tests.support.waiting import wait_until

START = datetime(2017, 9, 1, tzinfo=UTC)
SPAN_DAYS = 120
BRANDS = ("AcmeSupport", "GlobexHelp", "InitechCares")
BRAND = BRANDS[0]
RETURNING = "700003"  # a thread on day 5, another on day 100: the too-late probe's customer
DOC_FIELDS = ("conversation_id", "duplicate_of", "owed_answer", "answered_by",
              "response_time_seconds", "sla")  # fmt: skip


class Archive:
    """Rows of a Twitter support CSV, written thread by thread (not in time order)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows: list[list[str]] = []
        self.next_id = 1000
        self.long_lived: list[str] = []  # messages of the two customers beyond the retention

    def tweet(self, author: str, inbound: bool, at: datetime, text: str, parent: str = "") -> str:
        self.next_id += 1
        when = f"{at:%a %b %d %H:%M:%S} +0000 {at.year}"
        self.rows.append([str(self.next_id), author, str(inbound), when, text, "", parent])
        return str(self.next_id)

    def ask(self, customer: str, brand: str, at: datetime, parent: str = "") -> str:
        words = " ".join(self.rng.sample(WORDS, 5))
        return self.tweet(customer, True, at, f"@{brand} {words} #{self.next_id}", parent)

    def answer(self, brand: str, customer: str, at: datetime, parent: str) -> str:
        return self.tweet(
            brand, False, at, f"@{customer} sorry, we are on it ^{self.next_id}", parent
        )

    def thread(self, customer: str, brand: str, at: datetime) -> None:
        rng = self.rng
        last = self.ask(customer, brand, at)
        for _ in range(rng.choice((0, 1, 1, 2))):
            if rng.random() < 0.15:
                return  # never answered
            at += timedelta(minutes=rng.randint(5, 600))
            reply = self.answer(brand, customer, at, last)
            at += timedelta(minutes=rng.randint(10, 180))
            last = self.ask(customer, brand, at, reply)

    def csv(self, order: Callable[[list[list[str]]], None] | None = None) -> str:
        rows = list(self.rows)
        if order is not None:
            order(rows)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
        return out.getvalue()


WORDS = ("order", "bill", "phone", "router", "refund", "delivery", "charge", "app", "login",
         "parcel", "invoice", "signal", "flight", "seat", "card", "screen", "update", "late",
         "broken", "missing", "twice", "again", "why", "still", "nobody", "help")  # fmt: skip


def build_archive(seed: int = 29) -> Archive:
    archive = Archive(seed)
    rng = archive.rng
    for n in range(40):
        customer, brand = str(600_000 + n), rng.choice(BRANDS)
        for _ in range(rng.randint(2, 5)):  # threads spread over four months
            archive.thread(
                customer, brand, START + timedelta(minutes=rng.randrange(SPAN_DAYS * 1440))
            )
    # wrote again 55 days after the brand's reply, answering it
    day10 = START + timedelta(days=10)
    question = archive.ask("700001", BRAND, day10)
    reply = archive.answer(BRAND, "700001", day10 + timedelta(hours=1), question)
    again = archive.ask("700001", BRAND, day10 + timedelta(days=55, hours=1), reply)
    archive.long_lived += [question, again]
    archive.answer(BRAND, "700001", day10 + timedelta(days=55, hours=3), again)
    # active over 40 days: a message every five days, each answered within hours
    at, parent = START + timedelta(days=20), ""
    for _ in range(9):
        asked = archive.ask("700002", BRAND, at, parent)
        archive.long_lived.append(asked)
        parent = archive.answer(BRAND, "700002", at + timedelta(hours=rng.randint(1, 20)), asked)
        at += timedelta(days=5)
    for day in (5, 100):
        asked = archive.ask(RETURNING, BRAND, START + timedelta(days=day))
        archive.answer(BRAND, RETURNING, START + timedelta(days=day, hours=2), asked)
    return archive


def documents(pipe: Pipeline) -> dict[str, dict[str, Any]]:
    """Every customer message's document, by tweet id, as the report reads it."""
    alias = pipe.settings.elastic.contacts
    pipe.es.indices.refresh(index=alias)
    query = {"bool": {"filter": [{"term": {"direction": "inbound"}}]}}
    docs = {}
    for hit in scan(
        pipe.es, index=alias, query={"query": query}, _source=["source_id", *DOC_FIELDS]
    ):
        doc = hit["_source"]
        sla = doc.get("sla") or {}
        docs[doc["source_id"]] = {
            **{f: doc.get(f) for f in DOC_FIELDS if f != "sla"},
            "sla": {k: sla.get(k) for k in ("policy", "target", "deadline", "outcome")},
        }
    return docs


def settled_results(pipe: Pipeline) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reports by every grouping and the documents, once two readings a few seconds
    apart agree (the replayed SLA clocks move with the watermark's timer)."""
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def stable() -> bool:
        seen.append(({by: report(pipe, by) for by in GROUPINGS}, documents(pipe)))
        if len(seen) < 2 or seen[-1] != seen[-2]:
            time.sleep(3)
            return False
        return True

    wait_until(stable, 120, "the reports to settle")
    return seen[-1]


def imported(base: Settings, tmp: Path, csv_text: str) -> tuple[Pipeline, dict, dict]:
    tmp.mkdir()
    pipe = make_pipeline(base, tmp)
    path = tmp / "archive.csv"
    path.write_text(csv_text, encoding="utf-8", newline="")
    result = run_import(
        pipe.settings, lambda p: read_archive(path, on_progress=p), wait=True, progress=False
    )
    assert result.bad == [] and result.accepted > 0
    reports, docs = settled_results(pipe)
    # the retention let old conversations go while the archive went through
    assert total(scrape(pipe.worker_metrics_url), "ascolto_conversations_evicted_total") > 0
    return pipe, reports, docs


def too_late_letters(pipe: Pipeline) -> list[dict[str, Any]]:
    letters = read_topic(pipe.settings, pipe.settings.kafka.dlq)
    return [v for _, v in letters if v is not None and v["reason_code"] == "too_late"]


def test_a_shuffled_archive_reports_exactly_as_in_file_order(
    base_settings: Settings, tmp_path
) -> None:
    archive = build_archive()
    in_file_order = archive.csv()
    shuffled = archive.csv(random.Random(7).shuffle)
    assert in_file_order != shuffled

    pipe, want_reports, want_docs = imported(base_settings, tmp_path / "file-order", in_file_order)
    try:
        assert too_late_letters(pipe) == []
    finally:
        teardown_pipeline(pipe)

    pipe, got_reports, got_docs = imported(base_settings, tmp_path / "shuffled", shuffled)
    try:
        assert too_late_letters(pipe) == []
        for by in GROUPINGS:  # field by field, so that a difference names itself
            assert set(got_reports[by]) == set(want_reports[by]), by
            for group, row in want_reports[by].items():
                for field, value in row.items():
                    assert got_reports[by][group][field] == value, (by, group, field)
        assert got_docs == want_docs
        assert sum(r["messages"] for r in got_reports["brand"].values()) == len(got_docs)
        assert all(got_docs[tweet_id]["answered_by"] for tweet_id in archive.long_lived)

        # the returning customer's timeline forgot day 5: a message of day 5 posted now is too late
        late = contact(source=SOURCE, source_id="late-1", channel="social", direction="inbound",
                       brand=BRAND, customer_handle=RETURNING,
                       occurred_at=int((START + timedelta(days=5, hours=3)).timestamp() * 1000),
                       body=f"@{BRAND} and one more thing about my order")  # fmt: skip
        assert post_contacts(pipe.ingest_url, [dict(late)]).accepted_ids
        wait_until(lambda: too_late_letters(pipe), 60, "the too-late contact's dead letter")
        (letter,) = too_late_letters(pipe)
        assert letter["stage"] == "thread" and letter["reason"].startswith("too late: occurred at ")
        assert "2017-09-06T03:00:00+00:00" in letter["reason"]
        wait_settled(pipe.settings)
        reports, docs = settled_results(pipe)
        assert reports == got_reports and docs == got_docs  # never counted, never unanswered
    finally:
        teardown_pipeline(pipe)
