"""End to end on the real stack: HTTP ingest -> Kafka -> Faust worker -> Elasticsearch."""

from __future__ import annotations

import pytest
from kafka import KafkaProducer

from ascolto.clients import kafka_options
from ascolto.search import get_docs
from ascolto.validation import contact_id_for
from bench.worker_metrics import scrape, total
from services import demo
from services.client import post_batch, post_contacts
from services.demo_run import broken_producer_messages
from services.observe import count_ids, read_topic, wait_searchable
from tests.support.stack import Pipeline
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def posted(pipeline: Pipeline):
    contacts = demo.generate(n_threads=170, seed=11)
    assert len(contacts) >= 500
    result = post_contacts(pipeline.ingest_url, contacts, batch_size=200)
    return contacts, result


def test_every_valid_contact_is_searchable_with_its_fields(pipeline: Pipeline, posted) -> None:
    contacts, result = posted
    valid = [
        c for c in contacts if c["source_id"] not in {"bad-1", "bad-2", "bad-3", "bad-4", "bad-5"}
    ]
    unique = {contact_id_for(c["source"], c["source_id"]): c for c in valid}
    assert set(result.accepted_ids) == set(unique)
    wait_searchable(pipeline.settings, pipeline.es, unique.keys(), timeout_s=120)

    docs = get_docs(pipeline.es, pipeline.settings.elastic.contacts, list(unique))
    assert len(docs) == len(unique)
    for contact_id, sent in unique.items():
        doc = docs[contact_id]
        for name in ("source_id", "channel", "direction", "brand", "body", "occurred_at"):
            assert doc[name] == sent[name], (contact_id, name)
        assert doc["language"] in ("en", "it", "und")
        assert doc["conversation_id"]
        assert doc["sentiment_label"] in ("negative", "neutral", "positive")
        assert doc["owed_answer"] == (doc["direction"] == "inbound" and doc["duplicate_of"] is None)
        if doc["direction"] == "inbound":
            assert doc["priority"] in ("P1", "P2", "P3", "P4")


def test_invalid_contacts_are_refused_at_the_door_with_the_reason(posted) -> None:
    contacts, result = posted
    refused = {r["contact"]["source_id"]: " ".join(r["errors"]) for r in result.refused}
    assert set(refused) == {"bad-1", "bad-2", "bad-3", "bad-4", "bad-5"}
    assert "channel" in refused["bad-1"] and "fax" in refused["bad-1"]
    assert "occurred_at" in refused["bad-2"]
    assert "brand: required" in refused["bad-3"]
    assert "direction" in refused["bad-4"]
    assert "milliseconds" in refused["bad-5"]


def test_an_invalid_batch_publishes_nothing(pipeline: Pipeline, posted) -> None:
    good = [
        demo._contact("acme", "chat", "inbound", f"atomic{i}", None, f"atomic-{i}",
                      demo.START_MS + i, "where is my parcel number 77?", None, None)
        for i in range(4)
    ]  # fmt: skip
    status, answer = post_batch(pipeline.ingest_url, [*good, {"source": "x"}], partial=False)
    assert status == 422
    assert "nothing was published" in answer["error"]
    assert answer["refused"][0]["index"] == len(good)
    # a later marker contact on the same pipeline gets indexed; the refused batch never does
    marker = dict(good[0], source_id="atomic-marker")
    status, answer = post_batch(pipeline.ingest_url, [marker], partial=False)
    assert status == 202
    wait_searchable(pipeline.settings, pipeline.es, answer["ids"], timeout_s=60)
    ids = [contact_id_for(c["source"], c["source_id"]) for c in good]
    pipeline.es.indices.refresh(index=pipeline.settings.elastic.contacts)
    assert count_ids(pipeline.es, pipeline.settings.elastic.contacts, ids) == 0


def test_undecodable_messages_go_to_the_dead_letter_topic(pipeline: Pipeline) -> None:
    broken = broken_producer_messages()
    producer = KafkaProducer(**kafka_options(pipeline.settings.kafka), acks="all")
    for payload in broken:
        producer.send(pipeline.settings.kafka.raw, key=b"broken", value=payload)
    producer.flush()
    producer.close()

    def letters():
        return [v for _, v in read_topic(pipeline.settings, pipeline.settings.kafka.dlq)]

    wait_until(lambda: len(letters()) >= len(broken), 60, "dead letters")
    found = letters()
    assert len(found) == len(broken)
    assert sorted(letter["original"] for letter in found) == sorted(broken)
    codes = sorted(letter["reason_code"] for letter in found)
    assert codes == ["decode", "decode", "decode", "validation"]
    assert all(letter["reason"] and letter["stage"] == "route" for letter in found)
    # the worker kept going: it is still alive and serving metrics
    assert pipeline.worker.popen is not None and pipeline.worker.popen.poll() is None


def test_metrics_show_the_same_counts(pipeline: Pipeline, posted) -> None:
    contacts, result = posted
    accepted = len(result.accepted_ids)
    unique = len(set(result.accepted_ids))
    ingest = scrape(f"{pipeline.ingest_url}/metrics")
    assert total(ingest, "ascolto_ingest_contacts_published_total") >= accepted
    assert total(ingest, "ascolto_ingest_contacts_rejected_total", reason="invalid") >= 5

    def worker_caught_up() -> bool:
        w = scrape(pipeline.worker_metrics_url)
        return (
            total(w, "ascolto_documents_indexed_total", index=pipeline.settings.elastic.contacts)
            >= unique
        )

    wait_until(worker_caught_up, 60, "worker metrics")
    w = scrape(pipeline.worker_metrics_url)
    published = total(ingest, "ascolto_ingest_contacts_published_total")
    # every contact ingest published was processed: none lost between the two services
    assert total(w, "ascolto_contacts_processed_total") == published
    assert total(w, "ascolto_contacts_deduplicated_total", kind="exact") >= accepted - unique
    assert total(w, "ascolto_end_to_end_latency_seconds_count") >= unique
    # every contact routed and threaded was timed from ingest to the stage
    routed = total(w, "ascolto_stage_wait_seconds_count", stage="route")
    threaded = total(w, "ascolto_stage_wait_seconds_count", stage="thread")
    assert routed >= published and threaded >= published
    assert 0 < total(w, "ascolto_stage_wait_seconds_sum", stage="route") / routed < 60


def test_posting_the_same_batch_again_creates_no_duplicates(pipeline: Pipeline, posted) -> None:
    contacts, result = posted
    alias = pipeline.settings.elastic.contacts
    wait_searchable(pipeline.settings, pipeline.es, set(result.accepted_ids), timeout_s=120)
    pipeline.es.indices.refresh(index=alias)
    before = pipeline.es.count(index=alias)["count"]
    dedup_before = total(
        scrape(pipeline.worker_metrics_url), "ascolto_contacts_deduplicated_total", kind="exact"
    )

    again = post_contacts(pipeline.ingest_url, contacts, batch_size=200)
    assert sorted(again.accepted_ids) == sorted(result.accepted_ids)

    def all_seen_again() -> bool:
        dedup = total(
            scrape(pipeline.worker_metrics_url), "ascolto_contacts_deduplicated_total", kind="exact"
        )
        return dedup - dedup_before >= len(again.accepted_ids)

    wait_until(all_seen_again, 90, "the redelivered contacts")
    pipeline.es.indices.refresh(index=alias)
    assert pipeline.es.count(index=alias)["count"] == before
