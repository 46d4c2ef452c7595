"""Schema evolution on the real pipeline (docs/schemas.md): a newer ingest writes version 2
of Contact (a new optional field) and registers it in the ``schemas`` topic; the worker, on
version 1, processes and indexes those contacts like its own. A version-2 consumer reads the
version-1 enriched records the worker wrote, finding their schema in the registry, with the new
field's default. A writer the registry holds that does not resolve, and one it does not hold,
are dead-lettered with the reason; the rest flows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from ascolto.clients import kafka_options
from ascolto.search import get_doc
from ascolto.validation import validate
from schemas import Codec, codec, current_and_history
from schemas.registry import KafkaSchemaRegistry, register_once
from services.dlq import read_letters, records
from services.ingest.publisher import routing_key
from services.observe import count_ids, wait_settled
from tests.support.schema_versions import (
    NEW_FIELD,
    Schema,
    add_new_field,
    codec_of,
    current_files,
    evolve,
    field,
)
from tests.support.stack import Pipeline


def contacts(tag: str, n: int) -> list[dict[str, Any]]:
    now = int(time.time() * 1000)
    posted = [
        {
            "source": "twitter",
            "source_id": f"{tag}-{i}",
            "channel": "social",
            "direction": "inbound",
            "brand": "acme",
            "customer_handle": f"@{tag}{i}",
            "occurred_at": now - 60_000 + i,
            "body": f"my order {i} never arrived",
        }  # fmt: skip
        for i in range(n)
    ]
    return [validate(c, received_at=now) for c in posted]


def produce(pipe: Pipeline, writer: Codec, batch: list[dict[str, Any]]) -> None:
    """What a newer ingest does: its contacts, encoded with its own schemas, to contacts.raw."""
    producer = KafkaProducer(**kafka_options(pipe.settings.kafka), acks="all")
    try:
        for contact in batch:
            value = writer.encode("Contact", contact)
            producer.send(pipe.settings.kafka.raw, key=routing_key(contact), value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


@pytest.fixture(scope="module")
def v2_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Contact version 2, in the test's directory (not the package), beside copies of the rest."""
    return evolve(tmp_path_factory.mktemp("schemas-v2"), "contact.v1.avsc", add_new_field)


@pytest.fixture(scope="module")
def v2(v2_schema: Path) -> Codec:
    """The newer process's codec."""
    return codec_of(v2_schema.parent, current_files(v2_schema))


def test_a_version_1_worker_processes_version_2_contacts(pipeline: Pipeline, v2: Codec) -> None:
    register_once(pipeline.settings.kafka, v2.canonical(["Contact"]), "test-ingest-v2")
    batch = [c | {NEW_FIELD: i % 5 + 1} for i, c in enumerate(contacts("v2", 20))]
    produce(pipeline, v2, batch)
    wait_settled(pipeline.settings)
    ids = [c["contact_id"] for c in batch]
    assert count_ids(pipeline.es, pipeline.settings.elastic.contacts, ids) == len(ids)
    assert not [x for x in read_letters(pipeline.settings.kafka) if x.contact_id in ids]
    indexed = get_doc(pipeline.es, pipeline.settings.elastic.contacts, ids[0])
    assert indexed is not None
    assert indexed["source_id"] == "v2-0" and indexed["body"] == batch[0]["body"]


def test_a_version_2_consumer_reads_version_1_enriched_records_from_the_registry(
    pipeline: Pipeline, v2_schema: Path
) -> None:
    batch = contacts("v1", 5)
    produce(pipeline, codec(), batch)
    wait_settled(pipeline.settings)
    k = pipeline.settings.kafka
    registry = KafkaSchemaRegistry(k, "test-consumer-v2")
    # only the current schemas, none of the kept files: what it reads comes from the registry,
    # where the worker registered what it writes when it started
    current, _ = current_and_history(current_files(v2_schema), v2_schema.parent)
    consumer = Codec(current, source=registry)
    try:
        read = {
            r.key.decode(): consumer.decode(r.value, expect="EnrichedContact")
            for r in records(k, k.enriched)
            if r.value is not None
        }
    finally:
        registry.close()
    ours = {c["contact_id"] for c in batch}
    assert ours <= set(read)
    for contact_id in ours:
        assert read[contact_id]["contact"][NEW_FIELD] is None  # the default: v1 has no such field
        assert read[contact_id]["contact"]["contact_id"] == contact_id
    assert registry.known  # and it was asked


def test_an_incompatible_or_unregistered_writer_is_dead_lettered_with_the_reason(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    def retype(schema: Schema) -> None:
        field(schema, "body").update(type="int")

    bad_dir = tmp_path / "bad"
    bad = codec_of(bad_dir, current_files(evolve(bad_dir, "contact.v1.avsc", retype)))
    register_once(pipeline.settings.kafka, bad.canonical(["Contact"]), "test-ingest-bad")
    refused = [c | {"body": 7} for c in contacts("bad", 3)]
    produce(pipeline, bad, refused)

    def unknown_field(schema: Schema) -> None:
        schema["fields"].append({"name": "mood", "type": ["null", "string"], "default": None})

    odd_dir = tmp_path / "unregistered"
    unregistered = codec_of(
        odd_dir, current_files(evolve(odd_dir, "contact.v1.avsc", unknown_field))
    )
    stray = contacts("stray", 2)
    produce(pipeline, unregistered, stray)
    fine = contacts("fine", 3)
    produce(pipeline, codec(), fine)
    wait_settled(pipeline.settings)

    letters = read_letters(pipeline.settings.kafka)
    keys = {routing_key(c) for c in refused + stray}
    ours = [x for x in letters if x.source_key in keys]
    assert len(ours) == len(refused) + len(stray)
    assert all(x.stage == "route" and x.reason_code == "decode" for x in ours)
    resolve = [x.reason for x in ours if "does not resolve to this version's Contact" in x.reason]
    unknown = [x.reason for x in ours if "not known in the schema registry" in x.reason]
    assert (len(resolve), len(unknown)) == (len(refused), len(stray)), [x.reason for x in ours]
    ids = [c["contact_id"] for c in fine]
    assert count_ids(pipeline.es, pipeline.settings.elastic.contacts, ids) == len(ids)
