"""The thread stage and its timers as objects, without faust or Kafka: a table over a dict and a
producer that records what it is sent, and when Kafka acknowledges it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from schemas import codec
from streams.customers import timeline_key
from streams.metrics import WorkerMetrics
from streams.sinks.dead_letter import DeadLetterSender
from streams.sla.gauges import ConversationGauges
from streams.sla.watermark import Watermark
from streams.stages.due_clocks import DueClocks
from streams.stages.expiry import Expiry
from streams.stages.publish import Outputs
from streams.stages.thread import ThreadStage, partition_of
from streams.stages.timeline import TimelineState
from streams.stages.timeline_cache import TimelineCache
from tests.support.stage_fakes import AcknowledgingProducer, DictTable, Log
from tests.support.timeline_records import MIN, PARAMS, POLICY, RECORDS, T0, record

DAY = 24 * 60 * MIN
PARTITIONS = 4
OUTPUT_TOPICS = ("t.enriched", "t.conversations", "t.sla")
CHANGELOG = "t.timelines-changelog"


class Partitions:
    def __init__(self) -> None:
        self.held: set[int] = set(range(PARTITIONS))
        self.rebalancing = False

    def settling(self) -> bool:
        return self.rebalancing

    def partitions(self) -> set[int]:
        return self.held


class Wall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def build(wall: Wall, retention_ms: int = 30 * DAY) -> tuple[ThreadStage, Log, Partitions]:
    log: Log = []
    metrics = WorkerMetrics.create(CollectorRegistry(), ("c", "v", "s"))
    producer = AcknowledgingProducer(log)
    partitions = Partitions()
    stage = ThreadStage(
        table=DictTable(log),
        changelog=CHANGELOG,
        producer=producer,
        outputs=Outputs(codec(), metrics, producer, *OUTPUT_TOPICS),
        codec=codec(),
        dead_letters=DeadLetterSender(producer, "t.dlq", metrics),
        metrics=metrics,
        params=PARAMS,
        policy=POLICY,
        retention_ms=retention_ms,
        partitions=PARTITIONS,
        assignment=partitions,
        watermark=Watermark(lateness_ms=10 * MIN),
        cache=TimelineCache(max_messages=1000),
        gauges=ConversationGauges(inactivity_ms=3 * DAY),
        clock=wall,
    )
    return stage, log, partitions


def event(key: bytes, value: bytes, offset: int = 0) -> Any:
    message = SimpleNamespace(key=key, value=value, topic="t.keyed", partition=0, offset=offset)
    return SimpleNamespace(message=message)


def events_of(customer: str, records: list[dict[str, Any]]) -> list[Any]:
    key = timeline_key("b", customer)
    return [event(key, codec().encode("EnrichedContact", r), i) for i, r in enumerate(records)]


def of_customer(customer: str, *records: dict[str, Any]) -> list[dict[str, Any]]:
    for r in records:
        r["customer_id"] = customer
    return list(records)


def sent_to(log: Log, topic: str) -> list[bytes | None]:
    return [key for what, t, key in log if what == "send" and t == topic]


def total(counter: Any) -> float:
    return sum(s.value for m in counter.collect() for s in m.samples if s.name.endswith("_total"))


def test_a_batch_is_written_to_the_table_only_after_kafka_acknowledged_its_outputs() -> None:
    stage, log, _ = build(Wall(T0 + 10 * DAY))
    key = timeline_key("b", "handle:c")
    batch = [*events_of("handle:c", RECORDS), event(key, b"not avro", offset=9)]

    asyncio.run(stage.handle(batch))

    outputs = [i for i, (what, topic, _) in enumerate(log) if topic in OUTPUT_TOPICS]
    assert len(sent_to(log, "t.enriched")) == len(RECORDS)
    assert sent_to(log, "t.conversations")
    written = log.index(("write", "table", key))
    assert max(outputs) < written  # every output sent and acknowledged before the write
    assert log[written + 1] == ("send", CHANGELOG, key)  # then the changelog
    assert stage.producer.values[CHANGELOG, key] == stage.table.data[key]  # type: ignore[attr-defined]
    assert len(TimelineState.load(stage.table.data[key]).messages) == len(RECORDS)
    assert sent_to(log, "t.dlq") == [None]  # the undecodable one, after the timeline
    assert log.index(("send", "t.dlq", None)) > written


def test_the_due_clock_timer_judges_a_waiting_customer_and_sends_the_breach() -> None:
    wall = Wall(T0 + MIN)
    stage, log, _ = build(wall)
    question = record("q1", "inbound", T0, None, "my order never arrived")
    question["contact"]["received_at"] = T0  # live: judged by the wall clock
    asyncio.run(stage.handle(events_of("handle:c", [question])))
    key = timeline_key("b", "handle:c")
    clocks = DueClocks(stage)

    asyncio.run(clocks.tick())  # nothing due yet: the first response is owed within 1h
    assert sent_to(log, "t.sla") == []

    wall.ms = T0 + 2 * 60 * MIN
    del log[:]
    asyncio.run(clocks.tick())
    events = [codec().decode(stage.producer.values["t.sla", k]) for k in sent_to(log, "t.sla")]  # type: ignore[attr-defined]
    assert {(e["event_type"], e["target"], e["clock"]) for e in events} >= {
        ("breached", "first_response", "live")
    }
    assert max(i for i, (_, topic, _) in enumerate(log) if topic == "t.sla") < log.index(
        ("write", "table", key)
    )
    assert TimelineState.load(stage.table.data[key]).sla["events"]


def test_a_rebuild_of_the_wake_index_waits_for_a_batch_awaiting_kafka() -> None:
    """The first tick after an assignment rebuilds the index from the table. A batch whose
    outputs Kafka has not acknowledged yet is not in the table: rebuilt then, the index would
    lose its customer, whose clock would never be judged again without a new contact."""
    wall = Wall(T0 + MIN)
    stage, log, _ = build(wall)
    question = record("q1", "inbound", T0, None, "my order never arrived")
    question["contact"]["received_at"] = T0
    key = timeline_key("b", "handle:c")
    clocks = DueClocks(stage)
    assert stage.wake_index.stale  # as a worker starts

    async def batch_and_tick() -> None:
        handling = asyncio.create_task(stage.handle(events_of("handle:c", [question])))
        await asyncio.sleep(0)  # the batch now awaits Kafka's acknowledgements
        assert key not in stage.table
        await clocks.tick()
        await handling

    asyncio.run(batch_and_tick())
    assert key in stage.wake_index
    wall.ms = T0 + 2 * 60 * MIN
    asyncio.run(clocks.tick())
    events = [codec().decode(stage.producer.values["t.sla", k]) for k in sent_to(log, "t.sla")]  # type: ignore[attr-defined]
    assert ("breached", "first_response") in {(e["event_type"], e["target"]) for e in events}


def test_expiry_drops_a_silent_customers_timeline_and_tombstones_its_changelog() -> None:
    stage, log, _ = build(Wall(T0 + 10 * DAY), retention_ms=DAY)
    silent, busy = timeline_key("b", "handle:silent"), timeline_key("b", "handle:busy")
    answer = record("a1", "outbound", T0, None, "we are here for you")
    later = record("x1", "outbound", T0 + 3 * DAY, None, "a newsletter")
    asyncio.run(stage.handle(events_of("handle:silent", of_customer("handle:silent", answer))))
    asyncio.run(stage.handle(events_of("handle:busy", of_customer("handle:busy", later))))
    asyncio.run(Expiry(stage, idle_s=0).tick())  # not before the indexes are built
    assert silent in stage.table.data
    asyncio.run(DueClocks(stage).tick())  # builds them, and judges the clocks that ran
    assert silent not in stage.wake_index

    asyncio.run(Expiry(stage, idle_s=3600).tick())  # stepped a moment ago: kept for now
    assert silent in stage.table.data

    del log[:]
    asyncio.run(Expiry(stage, idle_s=0).tick())
    assert silent not in stage.table.data and busy in stage.table.data
    assert sent_to(log, CHANGELOG) == [silent]
    assert stage.producer.values[CHANGELOG, silent] is None  # type: ignore[attr-defined]
    assert total(stage.metrics.timelines_expired) == 1


def test_reindex_keeps_only_the_timelines_of_this_workers_partitions() -> None:
    stage, log, partitions = build(Wall(T0 + 10 * DAY))
    customers = [f"handle:c{i}" for i in range(20)]
    for i, customer in enumerate(customers):
        answer = record(f"a{i}", "outbound", T0, None, "hello")
        asyncio.run(stage.handle(events_of(customer, of_customer(customer, answer))))
    keys = {timeline_key("b", c) for c in customers}
    by_partition = {p: {k for k in keys if partition_of(k, PARTITIONS) == p} for p in range(4)}
    assert all(by_partition.values())  # the test means something: every partition holds some
    partitions.held = {1, 3}
    sent = len(log)

    stage.rebalanced()
    stage.reindex()

    mine = by_partition[1] | by_partition[3]
    assert set(stage.table.data) == mine
    assert {k for k in keys if k in stage.expiry} == mine
    assert set(stage.touched) == mine
    assert not stage.wake_index.stale
    assert len(log) == sent  # the store alone: the other partitions' changelogs are not ours
