"""Erasure on request on a real pipeline: an imported archive, one customer (with a directory
entry and an e-mail contact besides their tweets) erased with ``ascolto erase``; then nothing
of them in any index, a tombstone as the latest record of each of their keys in the
compacted topics and the worker's changelog, audit events without personal data, the other
customers' documents unchanged; and after a worker restart and a new contact, still nothing."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch.helpers import scan
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.search import get_doc
from ascolto.topics import TIMELINES_TABLE, ensure_topics
from schemas import codec
from services.client import post_contacts
from services.directory import publish_profiles
from services.importers.run import run_import
from services.importers.twitter import read_archive
from services.observe import wait_settled
from streams.customers import timeline_key
from tests.support.stack import ASCOLTO, Pipeline, make_pipeline, teardown_pipeline
from tests.support.twitter_archive import Archive, generate
from tests.support.waiting import wait_until

EMAIL = "erin.erasable@example.org"
CUSTOMER_ID = "cust-erase-me"
NAME = "Erin Erasable"
DISTINCTIVE = "zebra crossing 8812, please refund my quokka"


@pytest.fixture(scope="module")
def pipe(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    pipe = make_pipeline(base_settings, tmp_path_factory.mktemp("erasure"))
    try:
        yield pipe
    finally:
        teardown_pipeline(pipe)


def records(settings: Settings, topic: str) -> list[Any]:
    """Every record of a topic, raw (a changelog holds no Avro), from the start to its end."""
    consumer = KafkaConsumer(**kafka_options(settings.kafka), enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"{topic} not read to its end in 30 s"
            for batch in consumer.poll(timeout_ms=500).values():
                out += batch
        return out
    finally:
        consumer.close()


def latest(settings: Settings, topic: str) -> dict[bytes, bytes | None]:
    return {r.key: r.value for r in records(settings, topic)}


def documents(pipe: Pipeline) -> dict[str, dict[str, dict[str, Any]]]:
    """alias -> document id -> document."""
    e = pipe.settings.elastic
    out = {}
    for alias in (e.contacts, e.conversations, e.sla_events):
        pipe.es.indices.refresh(index=alias)
        out[alias] = {h["_id"]: h["_source"] for h in scan(pipe.es, index=alias)}
    return out


def the_erased(archive: Archive) -> tuple[str, str]:
    """The archive's customer with the most messages, and their brand."""
    inbound = Counter((p.customer, p.brand) for p in archive.posts.values() if p.inbound)
    (customer, brand), _ = inbound.most_common(1)[0]
    return customer, brand


def post(pipe: Pipeline, brand: str, source_id: str, at_s: int, body: str, **who: Any) -> str:
    contact = {
        "source": "erase-test", "source_id": source_id, "channel": "email",
        "direction": "inbound", "brand": brand, "occurred_at": at_s * 1000, "body": body, **who,
    }  # fmt: skip
    return str(post_contacts(pipe.ingest_url, [contact]).accepted_ids[0])


def erased_docs(
    docs: dict[str, dict[str, dict[str, Any]]], ids: set[str], conversations: set[str]
) -> dict[str, list[str]]:
    """Per alias, the documents of the erased customer (by customer, contact or conversation)."""
    return {
        alias: [
            doc_id
            for doc_id, d in by_id.items()
            if d.get("customer_id") in ids
            or doc_id in conversations
            or d.get("conversation_id") in conversations
        ]
        for alias, by_id in docs.items()
    }


def search_anywhere(pipe: Pipeline, handle: str) -> int:
    """Documents in any alias that name the erased person or hold their text."""
    e = pipe.settings.elastic
    query = {
        "bool": {
            "should": [
                {"multi_match": {"query": DISTINCTIVE, "operator": "and", "fields": ["body"]}},
                {"terms": {"customer_id": [CUSTOMER_ID, f"handle:{handle}", f"email:{EMAIL}"]}},
                {"terms": {"customer_handle": [handle, f"@{handle}", EMAIL]}},
                {"term": {"customer_email": EMAIL}},
            ]
        }
    }
    aliases = [e.contacts, e.conversations, e.sla_events]
    pipe.es.indices.refresh(index=aliases)
    return int(pipe.es.count(index=aliases, query=query, ignore_unavailable=True)["count"])


def test_an_erased_customer_is_gone_everywhere_and_stays_gone(pipe: Pipeline, tmp_path) -> None:
    settings, k = pipe.settings, pipe.settings.kafka
    archive = generate(240, seed=28)
    handle, brand = the_erased(archive)
    archive_start = min(p.at for p in archive.posts.values())
    publish_profiles(
        k,
        [{"customer_id": CUSTOMER_ID, "name": NAME, "tier": "vip",
          "handles": [handle], "emails": [EMAIL]}],
    )  # fmt: skip

    def profile_loaded() -> bool:  # the directory reaches the worker asynchronously
        probe = post(pipe, brand, f"probe-{time.monotonic_ns()}", archive_start, "hello there",
                     customer_handle=handle)  # fmt: skip
        wait_settled(settings)
        doc = get_doc(pipe.es, settings.elastic.contacts, probe)
        return doc is not None and doc["customer_id"] == CUSTOMER_ID

    wait_until(profile_loaded, 60, "the directory entry")
    path = archive.write(tmp_path / "archive.csv")
    run_import(settings, lambda p: read_archive(path, on_progress=p), wait=True, progress=False)
    post(pipe, brand, "mail-1", archive_start + 3600, DISTINCTIVE,
         customer_handle=EMAIL, customer_email=EMAIL)  # fmt: skip
    wait_settled(settings)

    before = documents(pipe)
    # probes routed before the directory entry arrived are theirs too, under their handle
    ids = {CUSTOMER_ID, f"handle:{handle}", f"email:{EMAIL}"}
    contacts_of_x = {
        i for i, d in before[settings.elastic.contacts].items() if d["customer_id"] in ids
    }
    conversations_of_x = {
        d["conversation_id"] for i, d in before[settings.elastic.contacts].items()
        if i in contacts_of_x
    }  # fmt: skip
    mine = erased_docs(before, ids, conversations_of_x)
    assert len(contacts_of_x) >= 4 and mine[settings.elastic.sla_events]  # a real history
    assert search_anywhere(pipe, handle) > 0
    others = {
        alias: {i: d for i, d in by_id.items() if i not in mine[alias]}
        for alias, by_id in before.items()
    }
    assert all(others.values())  # other customers, in every index
    audit_before = len(records(settings, k.audit))

    dry = subprocess.run(
        [ASCOLTO, "erase", "--customer", f"@{handle}", "--dry-run"],
        env=pipe.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert f"would erase @{handle}" in dry.stdout and brand.casefold() in dry.stdout
    assert f"documents matching in {settings.elastic.contacts}: {len(contacts_of_x)}" in dry.stdout
    assert len(records(settings, k.audit)) == audit_before  # nothing done

    done = subprocess.run(
        [ASCOLTO, "erase", "--customer", f"@{handle}", "--wait", "120"],
        env=pipe.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"erased @{handle}" in done.stdout and EMAIL not in done.stdout
    assert NAME not in done.stdout and CUSTOMER_ID not in done.stdout
    wait_settled(settings)

    # nothing of them in any index; every other document as it was
    assert search_anywhere(pipe, handle) == 0
    after = documents(pipe)
    assert erased_docs(after, ids, conversations_of_x) == dict.fromkeys(after, [])
    assert after == others

    # the latest record of each of their keys is a tombstone
    enriched, conversations = latest(settings, k.enriched), latest(settings, k.conversations)
    assert {c.encode() for c in contacts_of_x} <= enriched.keys()
    assert all(enriched[c.encode()] is None for c in contacts_of_x)
    assert all(conversations[c.encode()] is None for c in conversations_of_x)
    directory = latest(settings, k.customers)
    assert directory[f"handle:{handle}".encode()] is None
    assert directory[f"email:{EMAIL}".encode()] is None
    changelog = latest(settings, f"{settings.worker.app_id}-{TIMELINES_TABLE}-changelog")
    key = timeline_key(brand, CUSTOMER_ID)
    assert key in changelog and changelog[key] is None

    # the audit events say what and when, never who
    audit = records(settings, k.audit)[audit_before:]
    events = [codec().decode(r.value, expect="AuditEvent") for r in audit]
    assert {e["actor"] for e in events} == {"worker", "erase"}
    [summary] = [e for e in events if e["actor"] == "erase"]
    assert summary["counts"]["timelines"] >= 1
    assert summary["counts"]["contacts"] == len(contacts_of_x)
    assert summary["counts"]["identities_forgotten"] == 2
    for r in audit:
        for personal in (handle, EMAIL, NAME, CUSTOMER_ID, DISTINCTIVE):
            assert personal.encode() not in r.value

    # a restarted worker recovers its state from the changelog: still nothing of them
    pipe.restart_worker()
    other = next(d for d in after[settings.elastic.contacts].values() if d["brand"] == brand)
    new_id = post(pipe, brand, "after-restart", archive_start + 7200, "where is my order 77",
                  customer_handle=other["customer_handle"])  # fmt: skip
    wait_settled(settings)
    assert get_doc(pipe.es, settings.elastic.contacts, new_id) is not None
    assert search_anywhere(pipe, handle) == 0
    assert latest(settings, f"{settings.worker.app_id}-{TIMELINES_TABLE}-changelog")[key] is None


def test_erase_refuses_an_empty_identity(pipe: Pipeline) -> None:
    done = subprocess.run(
        [ASCOLTO, "erase", "--customer", "@"], env=pipe.env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--customer: empty" in done.stderr


def test_setup_sets_every_retention_from_the_settings(pipe: Pipeline) -> None:
    """The audit topic keeps its records as long as its setting says; a topic whose retention
    was changed by hand (or by an older release) gets the setting's again from setup."""
    k, app_id = pipe.settings.kafka, pipe.settings.worker.app_id
    timelines = f"{app_id}-{TIMELINES_TABLE}-changelog"
    wanted = {
        k.audit: ("retention.ms", str(k.retention.audit_ms)),
        k.raw: ("retention.ms", str(k.retention.topics_ms)),
        timelines: ("max.compaction.lag.ms", str(k.retention.topics_ms)),
    }
    admin = KafkaAdminClient(**kafka_options(k))

    def values() -> dict[str, str]:
        asked = [
            ConfigResource(ConfigResourceType.TOPIC, topic, configs={name: None})
            for topic, (name, _) in wanted.items()
        ]
        found = admin.describe_configs(asked, config_filter="all")["topic"]
        return {topic: found[topic][name]["value"] for topic, (name, _) in wanted.items()}

    try:
        assert values() == {topic: value for topic, (_, value) in wanted.items()}
        changed = [
            ConfigResource(ConfigResourceType.TOPIC, topic, configs={name: "3600000"})
            for topic, (name, _) in wanted.items()
            if topic != k.audit
        ]
        admin.alter_configs(changed, incremental=True)
        wait_until(lambda: values()[k.raw] == "3600000", 10, "the change by hand")
        ensure_topics(k, app_id)
        wait_until(
            lambda: values() == {topic: value for topic, (_, value) in wanted.items()},
            10,
            "setup's retention",
        )
    finally:
        admin.close()
