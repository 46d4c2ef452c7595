"""A record no stage can read, on each topic the worker consumes: it goes to the dead-letter
topic with its stage and reason, and the contacts around it flow as if it were not there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaProducer

from ascolto.clients import kafka_options
from ascolto.config import Settings
from services.client import post_contacts
from tests.support.faults import Figures, contact, dead_letters, index_counts
from tests.support.stack import Pipeline, make_pipeline, teardown_pipeline
from tests.support.waiting import wait_until

FAULT = "A poison record in each consumed topic"
PROMISE = (
    "a record that is not one of the topic's messages is dead-lettered, with the stage and "
    "the reason, by the stage that consumes it; every other contact is indexed once."
)
# topic (a KafkaSettings name) -> the stage that dead-letters a poison record read from it
STAGE_OF = {
    "raw": "route",
    "keyed": "thread",
    "enriched": "index_contacts",
    "conversations": "index_conversations",
    "sla_events": "index_sla",
    "customers": "directory",
}


@pytest.fixture
def pipeline(base_settings: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    pipe = make_pipeline(base_settings, tmp_path)
    try:
        yield pipe
    finally:
        teardown_pipeline(pipe)


def test_a_poison_record_in_each_consumed_topic_is_dead_lettered_and_the_rest_flows(
    figures: Figures, pipeline: Pipeline
) -> None:
    kafka = pipeline.settings.kafka
    before = [contact("before", n, int(time.time() * 1000)) for n in range(100)]
    post_contacts(pipeline.ingest_url, before)

    poison = {name: f"poison on {name}".encode() for name in STAGE_OF}
    producer = KafkaProducer(**kafka_options(kafka), acks="all")
    for name, value in poison.items():
        # the customers record names the identity of contacts posted next: routing them
        # looks it up (streams.stages.route.Directory)
        key = b"handle:load1" if name == "customers" else f"poison-{name}".encode()
        producer.send(getattr(kafka, name), key=key, value=value)
    producer.flush()
    producer.close()
    wait_until(lambda: len(dead_letters(pipeline)) >= len(poison), 90, "the dead letters")

    after = [contact("after", n, int(time.time() * 1000)) for n in range(100)]
    accepted = post_contacts(pipeline.ingest_url, after).accepted_ids
    accepted += post_contacts(pipeline.ingest_url, before).accepted_ids  # a client's retry
    ids = set(accepted)
    alias = pipeline.settings.elastic.contacts
    wait_until(lambda: index_counts(pipeline.es, alias, ids)[0] == len(ids), 90, "the contacts")

    letters = dead_letters(pipeline)
    by_topic = {letter["source_topic"]: letter for letter in letters}
    found, total = index_counts(pipeline.es, alias, ids)
    figures.posted, figures.acknowledged = len(before) + len(after), len(ids)
    figures.indexed, figures.duplicates = found, total - found
    figures.dead_lettered = len(letters)
    figures.extra["poison records (one a topic)"] = len(poison)
    figures.extra["contacts posted twice (a retry)"] = len(before)

    assert len(letters) == len(poison)
    assert set(by_topic) == {getattr(kafka, name) for name in poison}
    for name, value in poison.items():
        letter = by_topic[getattr(kafka, name)]
        assert (letter["stage"], letter["original"]) == (STAGE_OF[name], value)
        assert letter["reason_code"] in {"decode", "schema"} and letter["reason"]
    assert found == total == len(ids) == len(before) + len(after)
    assert pipeline.worker.popen is not None and pipeline.worker.popen.poll() is None
    figures.passed = True
