"""Outputs.publish: every record of a step reaches its topic through the producer."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CollectorRegistry

from schemas import codec
from streams.metrics import WorkerMetrics
from streams.stages.publish import Outputs
from streams.stages.records import REVISION_HEADER
from streams.stages.timeline import TimelineState, thread_timeline
from tests.support.timeline_records import PARAMS, RECORDS, SLA

TOPICS = ("t.enriched", "t.conversations", "t.sla")


class RecordingProducer:
    """faust's ProducerT.send, as Outputs calls it: records what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, Any]] = []

    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        assert partition is None and timestamp is None  # the producer's partitioner decides
        self.sent.append((topic, key, value, headers))
        delivered = asyncio.get_running_loop().create_future()
        delivered.set_result(None)
        return delivered


def test_every_output_goes_to_its_topic_keyed_and_encoded() -> None:
    _, out = thread_timeline(TimelineState({}, 0, {}), RECORDS, PARAMS, 30 * 86_400_000, SLA)
    out.conversations.append((b"merged-away", None))
    out.sla_retractions.append("id-q9:first_response:warning")
    assert out.contacts and out.sla_events
    producer = RecordingProducer()
    metrics = WorkerMetrics.create(CollectorRegistry(), ("c", "v", "s"))
    outputs = Outputs(codec(), metrics, producer, *TOPICS)  # type: ignore[arg-type]

    async def publish() -> int:
        futures = await outputs.publish(out)
        await asyncio.gather(*futures)
        return len(futures)

    assert asyncio.run(publish()) == len(producer.sent)
    by_topic: dict[str, list[tuple[bytes | None, bytes | None, Any]]] = {t: [] for t in TOPICS}
    for topic, key, value, headers in producer.sent:
        by_topic[topic].append((key, value, headers))

    decode = codec().decode
    enriched, conversations, sla = (by_topic[t] for t in TOPICS)
    assert [(k, decode(v, expect="EnrichedContact")) for k, v, _ in enriched] == [
        (k, decode(codec().encode("EnrichedContact", r))) for k, r in out.contacts
    ]
    assert [k for k, _, _ in conversations] == [k for k, _ in out.conversations]
    tombstone = conversations[-1]
    assert tombstone == (b"merged-away", None, {REVISION_HEADER: str(out.revision).encode()})
    assert all(decode(v, expect="Conversation") for _, v, _ in conversations[:-1])
    events = [(k, decode(v, expect="SlaEvent")["event_id"]) for k, v, _ in sla[:-1]]
    assert events == [(e["event_id"].encode(), e["event_id"]) for e in out.sla_events]
    assert sla[-1] == (b"id-q9:first_response:warning", None, None)


def test_a_redelivery_republishes_sla_events_without_counting_them_again() -> None:
    metrics = WorkerMetrics.create(CollectorRegistry(), ("c", "v", "s"))
    outputs = Outputs(codec(), metrics, RecordingProducer(), *TOPICS)  # type: ignore[arg-type]

    def counted() -> dict[tuple[str, str], float]:
        totals: dict[tuple[str, str], float] = {}
        for sample in metrics.sla_events.collect()[0].samples:
            if sample.name.endswith("_total") and sample.value:
                key = (sample.labels["event_type"], sample.labels["target"])
                totals[key] = totals.get(key, 0) + sample.value
        return totals

    async def publish(out: Any) -> None:
        await asyncio.gather(*await outputs.publish(out))

    state, first = thread_timeline(TimelineState({}, 0, {}), RECORDS, PARAMS, 30 * 86_400_000, SLA)
    asyncio.run(publish(first))
    once = counted()
    assert once and sum(once.values()) == len(first.sla_events)
    assert {e["clock"] for e in first.sla_events} == {"replay"}  # labelled as judged

    _, again = thread_timeline(state, RECORDS, PARAMS, 30 * 86_400_000, SLA)  # redelivered
    assert again.sla_events, "a redelivery republishes its conversations' events"
    asyncio.run(publish(again))
    assert counted() == once
