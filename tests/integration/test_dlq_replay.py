"""``ascolto dlq replay`` against the real pipeline: a configuration mistake dead-letters a
contact, the mistake is fixed, the contact is replayed and indexed exactly once, and a second
replay changes nothing.

The mistake: the contacts index made by hand with ``source_id`` mapped as ``long`` (someone
looked at tweet ids, which are numbers). A tweet indexes; an e-mail, whose ``source_id`` is
its Message-ID, is refused by Elasticsearch with a mapping error, and the index stage
dead-letters it (``index``/``index_mapping``). The fix is the usual one for a wrong mapping:
a new index made from the shipped template, the documents copied into it, the alias
swapped. A replay before the fix fails again and shows as a new dead letter marked as a replay.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from kafka import KafkaProducer

from ascolto import lifecycle
from ascolto.clients import kafka_options
from ascolto.search import get_doc
from ascolto.validation import contact_id_for, validate
from schemas import codec
from services.client import post_batch
from services.dlq import read_letters, read_replayed
from services.dlq_select import Letter
from services.ingest.publisher import routing_key
from services.observe import count_ids, end_offsets, wait_settled
from streams.sinks.dead_letter import DeadLetter
from tests.support.stack import ASCOLTO, Pipeline
from tests.support.waiting import wait_until

TWEET = {
    "source": "twitter", "source_id": "1190051711", "channel": "social",
    "direction": "inbound", "brand": "acme", "customer_handle": "@jane",
    "occurred_at": "2026-11-23T10:00:00Z", "body": "@acme my order 1234 never arrived",
}  # fmt: skip
EMAIL = {
    "source": "mbox", "source_id": "<a1b2c3@mail.example>", "channel": "email",
    "direction": "inbound", "brand": "acme", "customer_handle": "bob@mail.example",
    "customer_email": "bob@mail.example", "occurred_at": "2026-11-23T10:05:00Z",
    "subject": "Refund", "body": "I was charged twice for order 5678",
}  # fmt: skip
EMAIL_ID = contact_id_for(EMAIL["source"], EMAIL["source_id"])
TWEET_ID = contact_id_for(TWEET["source"], TWEET["source_id"])


@pytest.fixture(scope="module")
def pipe(pipeline: Pipeline) -> Iterator[Pipeline]:
    """The module's pipeline; at its end, the index the fix makes (setup does not know it)."""
    yield pipeline
    pipeline.es.options(ignore_status=404).indices.delete(index=fixed_index(pipeline))


PERIOD = "2026.11"  # the contacts' month: their index is <alias>-2026.11-000001


def fixed_index(pipe: Pipeline) -> str:
    return lifecycle.index_name(pipe.settings.elastic.contacts, PERIOD, 2)


def dlq(pipe: Pipeline, *args: str) -> str:
    done = subprocess.run(
        [ASCOLTO, "dlq", *args], env=pipe.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def letters(pipe: Pipeline) -> list[Letter]:
    return sorted(read_letters(pipe.settings.kafka), key=lambda x: x.failed_at)


def offsets(pipe: Pipeline) -> dict[str, dict[int, int]]:
    k = pipe.settings.kafka
    return {t: end_offsets(pipe.settings, t) for t in (k.enriched, k.dlq, k.dlq_replayed)}


def contacts_indexed(pipe: Pipeline) -> tuple[int, int]:
    """(documents with the e-mail's id, documents in the alias), after a refresh."""
    alias = pipe.settings.elastic.contacts
    pipe.es.indices.refresh(index=alias)
    return count_ids(pipe.es, alias, [EMAIL_ID]), pipe.es.count(index=alias)["count"]


def make_the_mistake(pipe: Pipeline) -> None:
    alias = pipe.settings.elastic.contacts
    index = lifecycle.index_name(alias, PERIOD)
    pipe.es.options(ignore_status=404).indices.delete(index=index)
    wrong = {"properties": {"source_id": {"type": "long"}}}  # the template gives the rest
    aliases = lifecycle.creation_aliases(alias, PERIOD)
    pipe.es.indices.create(index=index, mappings=wrong, aliases=aliases)
    assert pipe.es.indices.get_mapping(index=index)[index]["mappings"]["properties"][
        "source_id"
    ] == {"type": "long"}


def fix_the_mistake(pipe: Pipeline) -> None:
    alias = pipe.settings.elastic.contacts
    old, new = lifecycle.index_name(alias, PERIOD), fixed_index(pipe)
    pipe.es.indices.create(index=new)  # from the shipped template: source_id a keyword
    # what _reindex does (not in the integ-test distribution of Elasticsearch), versions kept
    found = pipe.es.search(index=old, size=1000, version=True)["hits"]["hits"]
    assert found, "nothing to copy"
    for hit in found:
        pipe.es.index(
            index=new, id=hit["_id"], document=hit["_source"],
            version=hit["_version"], version_type="external",
        )  # fmt: skip
    pipe.es.indices.update_aliases(
        actions=[
            {"remove": {"index": old, "alias": alias}},
            {"remove": {"index": old, "alias": lifecycle.write_alias(alias, PERIOD)}},
            {"add": {"index": new, "alias": alias}},
            {"add": {"index": new, "alias": lifecycle.write_alias(alias, PERIOD)}},
        ]
    )


def test_a_contact_refused_by_a_wrong_mapping_is_replayed_once_after_the_fix(
    pipe: Pipeline,
) -> None:
    k = pipe.settings.kafka
    make_the_mistake(pipe)
    status, answer = post_batch(pipe.ingest_url, [TWEET, EMAIL])
    assert status == 202, answer

    first = wait_until(lambda: letters(pipe), 120, "the e-mail's dead letter")
    assert [(x.stage, x.reason_code, x.contact_id) for x in first] == [
        ("index", "index_mapping", EMAIL_ID)
    ]
    assert first[0].source_topic == k.enriched and first[0].source_key == EMAIL_ID.encode()
    wait_settled(pipe.settings, timeout_s=120)
    assert contacts_indexed(pipe) == (0, 1)  # the tweet only

    # --dry-run says what would go and changes nothing
    before = offsets(pipe)
    out = dlq(pipe, "replay", "--stage", "index", "--reason", "index_mapping", "--dry-run")
    assert f"would replay {first[0].ref} (index/index_mapping)" in out
    assert "would replay: 1, already replayed: 0, not replayable: 0" in out
    assert offsets(pipe) == before

    # replayed before the fix: refused again, a new dead letter that says it was a replay
    out = dlq(pipe, "replay", "--stage", "index", "--reason", "index_mapping")
    assert "replayed: 1, already replayed: 0" in out
    again = wait_until(lambda: letters(pipe)[1:], 120, "the replay's dead letter")
    assert [(x.reason_code, x.contact_id, x.replay_of) for x in again] == [
        ("index_mapping", EMAIL_ID, first[0].ref)
    ]
    assert again[0].original == first[0].original

    fix_the_mistake(pipe)
    out = dlq(pipe, "replay", "--stage", "index", "--reason", "index_mapping")
    assert f"replayed {again[0].ref} (index/index_mapping)" in out
    assert "replayed: 1, already replayed: 1, not replayable: 0" in out
    wait_until(lambda: contacts_indexed(pipe)[0] == 1, 120, "the replayed e-mail indexed")
    wait_settled(pipe.settings, timeout_s=120)
    assert contacts_indexed(pipe) == (1, 2)
    doc = get_doc(pipe.es, pipe.settings.elastic.contacts, EMAIL_ID)
    assert doc is not None
    assert doc["source_id"] == EMAIL["source_id"] and doc["body"] == EMAIL["body"]
    assert len(letters(pipe)) == 2  # no new dead letter

    # a crash after a replay but before its mark: the mark missing, it goes again, harmlessly
    forget_mark(pipe, again[0].ref)
    out = dlq(pipe, "replay", "--stage", "index")
    assert "replayed: 1, already replayed: 1" in out
    wait_settled(pipe.settings, timeout_s=120)
    assert contacts_indexed(pipe) == (1, 2)
    assert len(letters(pipe)) == 2

    # a second replay: nothing sent, nothing marked, nothing indexed twice
    before = offsets(pipe)
    out = dlq(pipe, "replay", "--stage", "index", "--reason", "index_mapping")
    assert "replayed: 0, already replayed: 2, not replayable: 0" in out
    assert offsets(pipe) == before
    assert contacts_indexed(pipe) == (1, 2)
    assert set(read_replayed(k)) == {first[0].ref, again[0].ref}

    groups = json.loads(dlq(pipe, "list", "--format", "json"))
    assert [(g["stage"], g["reason_code"], g["count"], g["replayed"]) for g in groups] == [
        ("index", "index_mapping", 2, 2)
    ]
    shown = dlq(pipe, "show", again[0].ref)
    assert f"a replay of: {first[0].ref}" in shown and "a EnrichedContact" in shown
    assert EMAIL["body"] not in shown  # the record only with --body
    assert EMAIL["body"] in dlq(pipe, "show", again[0].ref, "--body")


def forget_mark(pipe: Pipeline, ref: str) -> None:
    producer = KafkaProducer(**kafka_options(pipe.settings.kafka), acks="all")
    try:
        producer.send(pipe.settings.kafka.dlq_replayed, key=ref.encode(), value=None).get(30)
    finally:
        producer.close()
    assert ref not in read_replayed(pipe.settings.kafka)


CHAT = {
    "source": "chat", "source_id": "sess-77-msg-1", "channel": "chat", "direction": "inbound",
    "brand": "acme", "customer_handle": "carol", "occurred_at": "2026-11-23T11:00:00Z",
    "body": "my parcel 4411 is two weeks late",
}  # fmt: skip


def refused_by_route(pipe: Pipeline) -> DeadLetter:
    """What the route stage of a release that did not know a schema version wrote for a
    contact of that version (``decode``: unknown writer schema): the contact exactly as ingest
    published it, under its key, which a release that knows the version processes. Written
    here, as that release would have: this one knows every version ingest writes."""
    contact = validate(CHAT, received_at=int(time.time() * 1000))
    source = SimpleNamespace(
        topic=pipe.settings.kafka.raw, partition=0, offset=0, key=routing_key(contact),
        value=codec().encode("Contact", contact), headers=None,
    )  # fmt: skip
    reason = "unknown writer schema, fingerprint 1f2e3d4c5b6a7988"
    return DeadLetter.of_message(source, "route", "decode", reason, contact["contact_id"])


def conversation_counts(pipe: Pipeline, contact_id: str) -> tuple[int, int, int]:
    """(documents of the contact, its conversation's inbound and duplicate counts)."""
    e = pipe.settings.elastic
    for alias in (e.contacts, e.conversations):
        pipe.es.indices.refresh(index=alias)
    doc = get_doc(pipe.es, e.contacts, contact_id)
    assert doc is not None
    conv = get_doc(pipe.es, e.conversations, doc["conversation_id"])
    assert conv is not None
    return (
        count_ids(pipe.es, e.contacts, [contact_id]),
        conv["inbound_count"],
        conv["duplicate_count"],
    )


def test_a_route_stage_dead_letter_replayed_twice_counts_once(pipe: Pipeline) -> None:
    """A crash between a replay and its mark sends the record again: the thread stage drops
    the second as an exact duplicate, so nothing downstream counts it twice."""
    k = pipe.settings.kafka
    dead = refused_by_route(pipe)
    producer = KafkaProducer(**kafka_options(k), acks="all")
    try:
        producer.send(k.dlq, key=dead.key, value=dead.encode(), headers=dead.headers()).get(30)
    finally:
        producer.close()
    [letter] = [x for x in letters(pipe) if x.stage == "route"]
    contact_id = dead.contact_id or ""

    out = dlq(pipe, "replay", "--stage", "route")
    assert f"replayed {letter.ref} (route/decode) -> {k.raw}[0]" in out
    wait_until(lambda: count_ids(pipe.es, pipe.settings.elastic.contacts, [contact_id]), 120, "it")
    wait_settled(pipe.settings, timeout_s=120)
    assert conversation_counts(pipe, contact_id) == (1, 1, 0)

    forget_mark(pipe, letter.ref)
    assert "replayed: 1, already replayed: 0" in dlq(pipe, "replay", "--stage", "route")
    wait_settled(pipe.settings, timeout_s=120)
    assert conversation_counts(pipe, contact_id) == (1, 1, 0)
    assert [x.stage for x in letters(pipe)].count("route") == 1  # not refused again
    assert "replayed: 0, already replayed: 1" in dlq(pipe, "replay", "--stage", "route")
