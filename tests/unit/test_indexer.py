"""The indexer's batch: each topic's records become bulk actions on its own index, the
documents Elasticsearch refuses and the records that cannot be decoded become dead letters,
and new contacts are timed for the latency histogram. Elasticsearch and Kafka are fakes here;
tests/integration covers the real ones (test_stream_core, test_elastic_sink)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from ascolto.config import Settings
from schemas import codec
from streams.indexer import Indexer
from streams.metrics import WorkerMetrics
from streams.sinks.elastic import Action, Failed
from streams.stages.records import REVISION_HEADER
from streams.stages.timeline import TimelineState, thread_timeline
from tests.support.timeline_records import PARAMS, RECORDS, SLA

SETTINGS = Settings()
K, E = SETTINGS.kafka, SETTINGS.elastic


class FakeSink:
    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.requests: list[dict[str, list[Action]]] = []  # one per write_many
        self.refuse = refuse

    async def write_many(self, writes: Mapping[str, Sequence[Action]]) -> dict[str, list[Failed]]:
        self.requests.append({index: list(actions) for index, actions in writes.items()})
        return {
            index: [
                Failed(a, 400, "mapper_parsing_exception")
                for a in actions
                if a.doc_id in self.refuse
            ]
            for index, actions in writes.items()
        }

    @property
    def writes(self) -> list[tuple[str, list[Action]]]:
        return [pair for request in self.requests for pair in request.items()]


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> Any:
        self.sent.append((topic, key, value))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def consumer_record(topic: str, offset: int, key: bytes, value: bytes | None, headers=()) -> Any:
    return ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, 0, 0, list(headers))


def threaded_batch() -> dict[TopicPartition, list[Any]]:
    """What the thread stage publishes for the test timeline, as consumed records."""
    _, out = thread_timeline(TimelineState({}, 0, {}), RECORDS, PARAMS, 30 * 86_400_000, SLA)
    cdc = codec()
    batch: dict[TopicPartition, list[Any]] = {}

    def add(topic: str, key: bytes, value: bytes | None, headers=()) -> None:
        records = batch.setdefault(TopicPartition(topic, 0), [])
        records.append(consumer_record(topic, len(records), key, value, headers))

    for key, contact in out.contacts:
        add(K.enriched, key, cdc.encode("EnrichedContact", contact))
    for key, conv in out.conversations:
        assert conv is not None
        add(K.conversations, key, cdc.encode("Conversation", conv))
    for event in out.sla_events:
        add(K.sla_events, event["event_id"].encode(), cdc.encode("SlaEvent", event))
    return batch


def indexer(sink: FakeSink) -> tuple[Indexer, WorkerMetrics]:
    metrics = WorkerMetrics.create(CollectorRegistry(), (E.contacts, E.conversations))
    return Indexer(SETTINGS, metrics, sink), metrics  # type: ignore[arg-type]


async def test_each_topic_goes_to_its_own_index_in_one_request_and_contacts_are_timed() -> None:
    sink, producer = FakeSink(), FakeProducer()
    idx, metrics = indexer(sink)
    batch = threaded_batch()
    await idx.index(batch, producer)  # type: ignore[arg-type]

    [written] = sink.requests
    assert set(written) == {E.contacts, E.conversations, E.sla_events}
    contact_ids = {a.doc_id for a in written[E.contacts]}
    assert contact_ids == {r["contact"]["contact_id"] for r in RECORDS}
    assert all(a.version is not None for a in written[E.contacts] + written[E.conversations])
    assert len(written[E.sla_events]) == len(batch[TopicPartition(K.sla_events, 0)]) > 0
    assert producer.sent == []
    latency = metrics.registry.get_sample_value("ascolto_end_to_end_latency_seconds_count")
    assert latency == len(RECORDS)  # every contact of the batch is new


async def test_refused_and_undecodable_records_become_dead_letters() -> None:
    refused = RECORDS[0]["contact"]["contact_id"]
    sink, producer = FakeSink(refuse=frozenset({refused})), FakeProducer()
    idx, metrics = indexer(sink)
    batch = threaded_batch()
    garbage = consumer_record(K.enriched, 99, b"k", b"\x00not avro")
    batch[TopicPartition(K.enriched, 0)].append(garbage)
    await idx.index(batch, producer)  # type: ignore[arg-type]

    letters = [codec().decode(value, expect="DeadLetter") for _, _, value in producer.sent]
    assert {topic for topic, _, _ in producer.sent} == {K.dlq}
    by_reason = {letter["reason_code"]: letter for letter in letters}
    assert set(by_reason) == {"schema", "index_mapping"}
    assert by_reason["schema"]["source_offset"] == 99
    assert by_reason["schema"]["original"] == b"\x00not avro"
    assert by_reason["index_mapping"]["contact_id"] == refused
    assert "mapper_parsing_exception" in by_reason["index_mapping"]["reason"]
    dead = metrics.registry.get_sample_value(
        "ascolto_contacts_dead_lettered_total", {"stage": "index_contacts", "reason": "schema"}
    )
    assert dead == 1


async def test_a_conversation_tombstone_is_a_versioned_delete() -> None:
    sink, producer = FakeSink(), FakeProducer()
    idx, _ = indexer(sink)
    tombstone = consumer_record(K.conversations, 0, b"conv-1", None, [(REVISION_HEADER, b"7")])
    await idx.index({TopicPartition(K.conversations, 0): [tombstone]}, producer)  # type: ignore[arg-type]
    assert sink.writes == [(E.conversations, [Action("conv-1", None, 7)])]


class FakeConsumer:
    """getmany hands out scripted fetches, one per call, then nothing."""

    def __init__(self, fetches: list[dict[TopicPartition, list[Any]]]) -> None:
        self.fetches = fetches
        self.asked: list[int] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        self.asked.append(max_records)
        if self.fetches:
            return self.fetches.pop(0)
        await asyncio.sleep(timeout_ms / 1000)  # as aiokafka's: an empty fetch waits its timeout
        return {}


async def test_a_batch_gathers_fetches_up_to_its_size_in_partition_order() -> None:
    tp0, tp1 = TopicPartition(K.enriched, 0), TopicPartition(K.enriched, 1)

    def records(tp: TopicPartition, offsets: range) -> list[Any]:
        return [consumer_record(tp.topic, o, b"k", b"v") for o in offsets]

    settings = Settings.from_env({"ASCOLTO_BATCH_SIZE": "10", "ASCOLTO_BATCH_WITHIN_S": "0.5"})
    metrics = WorkerMetrics.create(CollectorRegistry())
    idx = Indexer(settings, metrics, FakeSink())  # type: ignore[arg-type]
    consumer = FakeConsumer(
        [
            {tp0: records(tp0, range(0, 3))},
            {tp1: records(tp1, range(0, 4)), tp0: records(tp0, range(3, 5))},
            {tp0: records(tp0, range(5, 6))},
            {tp0: records(tp0, range(6, 9))},  # never asked for: the batch is full
        ]
    )
    batch = await idx._take(consumer)  # type: ignore[arg-type]
    assert [r.offset for r in batch[tp0]] == [0, 1, 2, 3, 4, 5]
    assert [r.offset for r in batch[tp1]] == [0, 1, 2, 3]
    assert consumer.asked == [10, 7, 1]


async def test_a_batch_waits_no_longer_than_its_window() -> None:
    tp0 = TopicPartition(K.enriched, 0)
    settings = Settings.from_env({"ASCOLTO_BATCH_SIZE": "10", "ASCOLTO_BATCH_WITHIN_S": "0.05"})
    idx = Indexer(settings, WorkerMetrics.create(CollectorRegistry()), FakeSink())  # type: ignore[arg-type]
    consumer = FakeConsumer([{tp0: [consumer_record(tp0.topic, 0, b"k", b"v")]}])
    batch = await asyncio.wait_for(idx._take(consumer), timeout=2)
    assert [r.offset for r in batch[tp0]] == [0]
    assert len(consumer.asked) >= 2  # it did wait for more, then gave up


async def test_a_failing_consumer_is_restarted_not_left_dead() -> None:
    metrics = WorkerMetrics.create(CollectorRegistry())
    idx = Indexer(SETTINGS, metrics, FakeSink())  # type: ignore[arg-type]
    calls = 0
    second = asyncio.Event()

    async def consume() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("Kafka unreachable")
        second.set()
        await asyncio.Event().wait()  # indexing, until cancelled

    idx._consume = consume  # type: ignore[method-assign]
    task = asyncio.ensure_future(idx.run())
    await asyncio.wait_for(second.wait(), timeout=5)
    task.cancel()
    assert metrics.registry.get_sample_value("ascolto_batch_retries_total", {"stage": "index"}) == 1


def test_the_inline_switch_takes_yes_or_no_and_nothing_else() -> None:
    assert Settings.from_env({}).worker.index_inline is True
    assert Settings.from_env({"ASCOLTO_INDEX_INLINE": "Off"}).worker.index_inline is False
    assert Settings.from_env({"ASCOLTO_INDEX_INLINE": "1"}).worker.index_inline is True
    with pytest.raises(ValueError, match="sometimes"):
        Settings.from_env({"ASCOLTO_INDEX_INLINE": "sometimes"})
