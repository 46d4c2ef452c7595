"""Stream core on the real stack: imported archives and live posts give the figures an
independent computation gives, whatever the arrival order, across a worker crash."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable

import pytest

from ascolto.config import Settings
from ascolto.search import get_doc, get_docs
from ascolto.validation import contact_id_for
from bench.worker_metrics import scrape, total
from services.client import post_contacts
from services.directory import publish_profiles
from services.importers.email import read_mail
from services.importers.run import run_import
from services.importers.twitter import read_archive
from services.observe import end_offsets, read_topic, wait_settled
from tests.support.mbox_archive import MBOX_AGENTS, write_mbox
from tests.support.report_checks import assert_matches, report
from tests.support.stack import (
    Pipeline,
    Proc,
    make_pipeline,
    metrics_url,
    teardown_pipeline,
    wait_ready,
)
from tests.support.twitter_archive import generate
from tests.support.waiting import wait_until


def import_twitter(pipe: Pipeline, path, wait: bool = True):
    return run_import(pipe.settings, lambda p: read_archive(path, on_progress=p), wait=wait,
                      progress=False)  # fmt: skip


def test_imported_archive_gives_the_independent_figures(pipeline: Pipeline, tmp_path) -> None:
    archive = generate(3000, seed=21)
    path = tmp_path / "twcs.csv"
    archive.write(path)
    result = import_twitter(pipeline, path)
    assert result.accepted > 3000 and all(r.reason.startswith("repeat of") for r in result.refused)
    assert_matches(report(pipeline), archive.expected)

    # the topics agree with Elasticsearch: the latest record per contact on contacts.enriched
    latest: dict[str, dict] = {}
    for key, value in read_topic(pipeline.settings, pipeline.settings.kafka.enriched, timeout_s=30):
        if value and (
            key.decode() not in latest or value["revision"] >= latest[key.decode()]["revision"]
        ):
            latest[key.decode()] = value
    docs = {d["_id"]: d["_source"] for d in _all_docs(pipeline)}
    assert set(latest) == set(docs)
    for contact_id, record in latest.items():
        for name in ("conversation_id", "answered_by", "duplicate_of", "response_time_seconds"):
            assert docs[contact_id][name] == record[name], (contact_id, name)

    # importing the same file again counts nothing twice
    import_twitter(pipeline, path)
    assert_matches(report(pipeline), archive.expected)


def _all_docs(pipe: Pipeline):
    from elasticsearch.helpers import scan

    return scan(pipe.es, index=pipe.settings.elastic.contacts, query={"query": {"match_all": {}}})


def test_conversations_index_agrees_with_contacts(pipeline: Pipeline) -> None:
    wait_settled(pipeline.settings)
    alias = pipeline.settings.elastic.conversations
    pipeline.es.indices.refresh(index=alias)
    convs = {
        h["_id"]: h["_source"]
        for h in __import__("elasticsearch.helpers").helpers.scan(pipeline.es, index=alias)
    }
    per_conv: dict[str, list[dict]] = {}
    for doc in _all_docs(pipeline):
        per_conv.setdefault(doc["_source"]["conversation_id"], []).append(doc["_source"])
    assert set(convs) == set(per_conv)
    for conv_id, contacts in per_conv.items():
        owed = [c for c in contacts if c["owed_answer"]]
        conv = convs[conv_id]
        assert conv["owed_count"] == len(owed)
        assert conv["answered_count"] == sum(1 for c in owed if c["answered_by"])
        assert conv["awaiting_answer"] == any(not c["answered_by"] for c in owed)


def test_mbox_import_gives_the_independent_figures(pipeline: Pipeline, tmp_path) -> None:
    path = tmp_path / "support.mbox"
    expected = write_mbox(path, 60, seed=4)
    result = run_import(
        pipeline.settings, lambda p: read_mail(path, MBOX_AGENTS, on_progress=p),
        wait=True, progress=False,
    )  # fmt: skip
    assert not [r for r in result.refused if not r.reason.startswith("repeat of")]
    rows = report(pipeline)
    for brand, figures in expected.items():
        for name in ("messages", "duplicates", "answered", "unanswered"):
            assert rows[brand][name] == getattr(figures, name), (brand, name)
        assert rows[brand]["p50_seconds"] == pytest.approx(figures.p50_seconds)


def test_live_posts_in_any_order_thread_and_answer(pipeline: Pipeline) -> None:
    t0 = 1_790_000_000_000
    thread = [
        _live("q1", "inbound", t0, None, "my parcel 5512 is lost, where is it?"),
        _live("a1", "outbound", t0 + 600_000, "q1", "Sorry! Can you DM us the tracking code?"),
        _live("q2", "inbound", t0 + 900_000, "a1", "sent it, tracking code 99881 thanks"),
        _live("a2", "outbound", t0 + 960_000, "q2", "Found it, it arrives tomorrow."),
    ]
    # the answers arrive first, the questions last
    result = post_contacts(pipeline.ingest_url, list(reversed(thread)))
    wait_settled(pipeline.settings)
    docs = get_docs(pipeline.es, pipeline.settings.elastic.contacts, result.accepted_ids)
    assert set(docs) == set(result.accepted_ids)
    by_source = {d["source_id"]: d for d in docs.values()}
    assert by_source["q1"]["answered_by"] == contact_id_for("live-test", "a1")
    assert by_source["q1"]["response_time_seconds"] == 600
    assert by_source["q2"]["response_time_seconds"] == 60
    assert len({d["conversation_id"] for d in by_source.values()}) == 1


def _live(source_id: str, direction: str, at: int, parent: str | None, body: str) -> dict:
    return {
        "source": "live-test", "source_id": source_id, "channel": "social",
        "direction": direction, "brand": "LiveBrand", "customer_handle": "@ordertest",
        "occurred_at": at, "in_reply_to": parent, "body": body,
    }  # fmt: skip


def test_customer_directory_recognises_one_person_across_channels(pipeline: Pipeline) -> None:
    publish_profiles(
        pipeline.settings.kafka,
        [{"customer_id": "cust-42", "account_id": "acc-9", "tier": "vip",
          "handles": ["@VipJane"], "emails": ["jane@example.com"]}],
    )  # fmt: skip
    t0 = 1_790_100_000_000
    posts = [
        {"source": "dir-test", "source_id": "tw", "channel": "social", "direction": "inbound",
         "brand": "DirBrand", "customer_handle": "@vipjane", "occurred_at": t0,
         "body": "your service is down again, this is unacceptable, fix it now"},
        {"source": "dir-test", "source_id": "mail", "channel": "email", "direction": "inbound",
         "brand": "DirBrand", "customer_handle": "jane@example.com",
         "customer_email": "jane@example.com", "occurred_at": t0 + 3_600_000,
         "subject": "Outage",
         "body": "Your service is down again; this is unacceptable. Fix it now!"},
    ]  # fmt: skip

    def profile_loaded() -> bool:  # the directory reaches workers asynchronously
        probe = dict(posts[0], source_id=f"probe-{time.monotonic_ns()}", body="hello there friends")
        ids = post_contacts(pipeline.ingest_url, [probe]).accepted_ids
        wait_settled(pipeline.settings)
        doc = get_doc(pipeline.es, pipeline.settings.elastic.contacts, ids[0])
        return doc is not None and doc["customer_id"] == "cust-42"

    wait_until(profile_loaded, 60, "the directory entry")
    ids = post_contacts(pipeline.ingest_url, posts).accepted_ids
    wait_settled(pipeline.settings)
    found = get_docs(pipeline.es, pipeline.settings.elastic.contacts, ids)
    social, email = (found[i] for i in ids)
    assert social["customer_id"] == email["customer_id"] == "cust-42"
    assert social["tier"] == "vip" and social["account_id"] == "acc-9"
    # the same complaint by email an hour later is a near-duplicate of the public post
    assert email["duplicate_of"] == social["contact_id"]
    assert email["conversation_id"] == social["conversation_id"]
    assert email["owed_answer"] is False


def test_worker_crash_mid_import_loses_and_double_counts_nothing(
    base_settings: Settings, tmp_path
) -> None:
    pipe = make_pipeline(base_settings, tmp_path, {"ASCOLTO_BATCH_SIZE": "200"})
    try:
        crash_mid_import(pipe, tmp_path, 4000, pipe.worker, pipe.start_worker)
    finally:
        teardown_pipeline(pipe)


def test_two_workers_hand_timelines_over_when_one_crashes(
    base_settings: Settings, tmp_path
) -> None:
    """Two workers share the partitions. One is killed mid-import and started again: each
    rebalance moves customers' timelines between them through the changelog, which they
    write themselves (streams.app keep), so a changelog record on another partition than its
    customer's would leave the new owner without that history and the figures wrong. Each
    timeline is then held by one worker only: one that kept those of the partitions it lost
    would step them on its timers and write to their owner's changelog."""
    pipe = make_pipeline(base_settings, tmp_path, {"ASCOLTO_BATCH_SIZE": "200"})
    second = pipe.add_worker("second-worker")

    def start_second() -> None:
        second.start()
        wait_ready(second)

    try:
        start_second()
        crash_mid_import(pipe, tmp_path, 4000, second, start_second)
        # both hold a share of the timelines (the gauge is refreshed every 5 s), and together
        # one timeline per customer key
        urls = (pipe.worker_metrics_url, metrics_url(second))
        for url in urls:
            wait_until(
                lambda u=url: total(scrape(u), "ascolto_customer_timelines") > 0,  # type: ignore[misc]
                30,
                f"timelines at {url}",
            )
        customers = {
            key for key, _ in read_topic(pipe.settings, pipe.settings.kafka.keyed, timeout_s=30)
        }
        wait_until(
            lambda: (
                sum(total(scrape(u), "ascolto_customer_timelines") for u in urls) == len(customers)
            ),
            30,
            f"{len(customers)} timelines, each held once",
        )
    finally:
        teardown_pipeline(pipe)


def test_indexer_in_its_own_process_survives_a_crash(base_settings: Settings, tmp_path) -> None:
    """``ascolto indexer`` beside a worker that does not index: killed mid-import and started
    again, it still indexes every contact once, with the figures of an independent count."""
    pipe = make_pipeline(base_settings, tmp_path, {"ASCOLTO_INDEX_INLINE": "false"})
    indexer = pipe.add_worker("indexer", "indexer")

    def start_indexer() -> None:
        indexer.start()
        wait_ready(indexer, 60)

    try:
        start_indexer()
        crash_mid_import(pipe, tmp_path, 3000, indexer, start_indexer)
        contacts = pipe.settings.elastic.contacts
        worker = scrape(pipe.worker_metrics_url)
        assert total(worker, "ascolto_documents_indexed_total", index=contacts) == 0
        indexed = total(
            scrape(metrics_url(indexer)), "ascolto_documents_indexed_total", index=contacts
        )
        assert indexed > 0
    finally:
        teardown_pipeline(pipe)


def crash_mid_import(
    pipe: Pipeline, tmp_path, size: int, victim: Proc, restart: Callable[[], None]
) -> None:
    """Import an archive, SIGKILL ``victim`` while contacts flow, ``restart`` it, and check
    the figures are exactly the archive's: nothing lost, nothing counted twice."""
    archive = generate(size, seed=size)
    path = tmp_path / "twcs.csv"
    archive.write(path)
    importer = threading.Thread(target=import_twitter, args=(pipe, path, False))
    importer.start()
    wait_until(lambda: _indexed(pipe) > size // 10, 120, "the import to get going")
    victim.stop(signal.SIGKILL)
    down_at = _published(pipe)
    wait_until(
        lambda: _published(pipe) > down_at or not importer.is_alive(),
        60,
        "contacts to arrive while the victim is down",
    )
    restart()
    importer.join(timeout=300)
    assert not importer.is_alive()
    wait_settled(pipe.settings, timeout_s=300)
    assert_matches(report(pipe), archive.expected)


def _indexed(pipe: Pipeline) -> int:
    pipe.es.indices.refresh(index=pipe.settings.elastic.contacts)
    return int(pipe.es.count(index=pipe.settings.elastic.contacts)["count"])


def _published(pipe: Pipeline) -> int:
    return sum(end_offsets(pipe.settings, pipe.settings.kafka.raw).values())
