"""Erasure through the stage objects, without faust or Kafka: the route stage forwards an erase
request to the customer's timeline, in order; the thread stage tombstones everything it
published for that customer, drops the timeline, and writes an audit event with no personal
data; the index stage deletes the documents on those tombstones."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from ascolto.config import CONFIG_DIR
from ascolto.validation import validate
from schemas import codec
from streams.customers import timeline_key
from streams.metrics import WorkerMetrics
from streams.rules.enrich import Enricher
from streams.sinks.dead_letter import DeadLetterSender
from streams.sla.gauges import ConversationGauges
from streams.sla.watermark import Watermark
from streams.stages import index
from streams.stages.publish import Outputs
from streams.stages.records import REVISION_HEADER
from streams.stages.route import route_batch
from streams.stages.thread import ThreadStage
from streams.stages.timeline import TimelineState
from streams.stages.timeline_cache import TimelineCache
from tests.support.stage_fakes import AcknowledgingProducer, DictTable, Log
from tests.support.timeline_records import MIN, PARAMS, POLICY, T0, record

JANE = {
    "customer_id": "cust-jane-7",
    "handle": "jane.doe",
    "email": "jane.doe@example.org",
    "texts": ("my parcel 4411 vanished", "parcel 4411 still missing, furious"),
}
AUDIT, CHANGELOG = "t.audit", "t.changelog"


class HeaderProducer(AcknowledgingProducer):
    """The fake producer, keeping each record's headers too."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.headers: dict[tuple[str, bytes | None], Any] = {}

    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        self.headers[topic, key] = headers
        return await super().send(topic, key, value, partition, timestamp, headers)


class Held:
    def settling(self) -> bool:
        return False

    def partitions(self) -> set[int]:
        return set(range(4))


def stage_with_fakes() -> tuple[ThreadStage, Log, HeaderProducer]:
    log: Log = []
    metrics = WorkerMetrics.create(CollectorRegistry(), ("c", "v", "s"))
    producer = HeaderProducer(log)
    outputs = Outputs(codec(), metrics, producer, "t.enriched", "t.conv", "t.sla", AUDIT)
    stage = ThreadStage(
        DictTable(log), CHANGELOG, producer, outputs, codec(),
        DeadLetterSender(producer, "t.dlq", metrics), metrics, PARAMS, POLICY,
        retention_ms=30 * 24 * 60 * MIN, partitions=4, assignment=Held(),
        watermark=Watermark(lateness_ms=10 * MIN), cache=TimelineCache(max_messages=1000),
        gauges=ConversationGauges(inactivity_ms=3 * 24 * 60 * MIN), clock=lambda: T0 / 1000,
    )  # fmt: skip
    return stage, log, producer


def thread_of(who: str, customer_id: str, handle: str, email: str | None) -> list[dict[str, Any]]:
    """A question answered, a follow-up still owed (its SLA clocks run), a new question."""
    records = [
        record(f"{who}-q1", "inbound", T0, None, f"{who} writes: my parcel 4411 vanished"),
        record(f"{who}-a1", "outbound", T0 + 90 * MIN, f"{who}-q1", "sorry, we are looking"),
        record(f"{who}-q2", "inbound", T0 + 100 * MIN, None, "parcel 4411 still missing, furious"),
    ]
    for r in records:
        r["customer_id"] = customer_id
        r["contact"].update(customer_handle=handle, customer_email=email, brand="b")
    return records


def event(key: bytes, value: bytes, offset: int = 0) -> Any:
    message = SimpleNamespace(key=key, value=value, topic="t.keyed", partition=0, offset=offset)
    return SimpleNamespace(message=message)


def contacts(key: bytes, records: list[dict[str, Any]]) -> list[Any]:
    return [event(key, codec().encode("EnrichedContact", r), i) for i, r in enumerate(records)]


def erasure(customer_id: str, part: int = 0) -> dict[str, Any]:
    return {
        "request_id": "req-1",
        "part": part,
        "brand": "b",
        "customer_id": customer_id,
        "requested_at": T0,
    }


def erase_event(key: bytes, customer_id: str, part: int = 0) -> Any:
    return event(key, codec().encode("Erasure", erasure(customer_id, part)), 99)


def sent(log: Log, topic: str) -> list[bytes | None]:
    return [key for what, t, key in log if what == "send" and t == topic]


def audits(producer: HeaderProducer, log: Log) -> list[bytes]:
    assert sent(log, AUDIT) == [b"req-1"] * len(sent(log, AUDIT))
    return [v for (t, _), v in producer.values.items() if t == AUDIT and v is not None]


JANE_KEY = timeline_key("b", JANE["customer_id"])
OTHER_KEY = timeline_key("b", "handle:bob")


def two_customers() -> tuple[ThreadStage, Log, HeaderProducer]:
    stage, log, producer = stage_with_fakes()
    jane = thread_of("jane", JANE["customer_id"], JANE["handle"], JANE["email"])
    bob = thread_of("bob", "handle:bob", "bob", None)
    asyncio.run(stage.handle(contacts(JANE_KEY, jane) + contacts(OTHER_KEY, bob)))
    return stage, log, producer


def test_an_erasure_tombstones_every_record_of_the_customer_then_drops_the_timeline() -> None:
    stage, log, producer = two_customers()
    before = TimelineState.load(stage.table.data[JANE_KEY])
    bob_before = stage.table.data[OTHER_KEY]
    jane_convs = {k for k in sent(log, "t.conv") if producer.values["t.conv", k] is not None} - set(
        sent_for_bob(log, producer)
    )
    jane_events = set(before.sla["events"])
    assert len(before.messages) == 3 and jane_convs and jane_events  # something to erase
    del log[:]

    asyncio.run(stage.handle([erase_event(JANE_KEY, JANE["customer_id"])]))

    assert set(sent(log, "t.enriched")) == {c.encode() for c in before.messages}
    assert set(sent(log, "t.conv")) == jane_convs
    assert set(sent(log, "t.sla")) == {e.encode() for e in jane_events}
    for topic in ("t.enriched", "t.conv", "t.sla"):
        for key in sent(log, topic):
            assert producer.values[topic, key] is None  # tombstones, all of them
    revision = str(before.revision + 1).encode()  # above any the customer had
    for topic in ("t.enriched", "t.conv"):
        for key in sent(log, topic):
            assert producer.headers[topic, key] == {REVISION_HEADER: revision}

    # outputs acknowledged, then the timeline and its changelog, then the audit event
    acks = [i for i, (what, t, _) in enumerate(log) if what == "ack" and t != AUDIT]
    dropped = log.index(("send", CHANGELOG, JANE_KEY))
    assert max(i for i in acks if i < dropped) < dropped < log.index(("send", AUDIT, b"req-1"))
    assert producer.values[CHANGELOG, JANE_KEY] is None
    assert JANE_KEY not in stage.table and JANE_KEY not in stage.expiry
    assert JANE_KEY not in stage.wake_index and JANE_KEY not in stage.touched

    # the other customer untouched
    assert stage.table.data[OTHER_KEY] == bob_before
    assert OTHER_KEY in stage.expiry and OTHER_KEY not in {k for _, _, k in log}

    [audit] = audits(producer, log)
    decoded = codec().decode(audit, expect="AuditEvent")
    assert decoded["counts"] == {
        "timelines": 1,
        "contacts": 3,
        "conversations": len(jane_convs),
        "sla_events": len(jane_events),
    }
    assert (decoded["actor"], decoded["part"], decoded["brands"]) == ("worker", 0, ["b"])
    for personal in (JANE["customer_id"], JANE["handle"], JANE["email"], "jane", *JANE["texts"]):
        assert personal.encode() not in audit


def sent_for_bob(log: Log, producer: HeaderProducer) -> list[bytes]:
    return [
        k
        for k in sent(log, "t.conv")
        if k is not None
        and producer.values["t.conv", k] is not None
        and codec().decode(producer.values["t.conv", k])["customer_id"] == "handle:bob"
    ]


def test_a_repeated_erasure_finds_nothing_and_says_so() -> None:
    stage, log, producer = two_customers()
    asyncio.run(stage.handle([erase_event(JANE_KEY, JANE["customer_id"])]))
    del log[:]
    producer.values.clear()

    asyncio.run(stage.handle([erase_event(JANE_KEY, JANE["customer_id"])]))

    assert sent(log, "t.enriched") == sent(log, "t.conv") == sent(log, "t.sla") == []
    [audit] = audits(producer, log)
    counts = codec().decode(audit)["counts"]
    assert counts == {"timelines": 0, "contacts": 0, "conversations": 0, "sla_events": 0}
    assert OTHER_KEY in stage.table


def test_contacts_before_an_erasure_in_one_batch_go_and_those_after_it_stay() -> None:
    stage, log, producer = stage_with_fakes()
    jane = thread_of("jane", JANE["customer_id"], JANE["handle"], JANE["email"])
    later = thread_of("later", JANE["customer_id"], JANE["handle"], JANE["email"])[:1]
    batch = [
        *contacts(JANE_KEY, jane),
        erase_event(JANE_KEY, JANE["customer_id"]),
        *contacts(JANE_KEY, later),
    ]

    asyncio.run(stage.handle(batch))

    kept = TimelineState.load(stage.table.data[JANE_KEY]).messages
    assert set(kept) == {"id-later-q1"}
    erased = {k for k in sent(log, "t.enriched") if producer.values["t.enriched", k] is None}
    assert erased == {f"id-jane-{s}".encode() for s in ("q1", "a1", "q2")}
    [audit] = audits(producer, log)
    assert codec().decode(audit)["counts"]["contacts"] == 3


def raw_contact(source_id: str) -> Any:
    contact = validate(
        {
            "source": "twitter",
            "source_id": source_id,
            "channel": "social",
            "direction": "inbound",
            "brand": "Acme",
            "customer_handle": "@Jane",
            "occurred_at": T0,
            "body": "my order never arrived",
        },  # fmt: skip
        received_at=T0,
    )
    value = codec().encode("Contact", contact)
    return SimpleNamespace(message=SimpleNamespace(value=value, topic="raw", partition=0, offset=0))


def test_the_route_stage_forwards_an_erasure_to_the_timeline_key_in_order() -> None:
    request = {**erasure("cust-jane-7"), "brand": "acme"}
    erase = SimpleNamespace(
        message=SimpleNamespace(value=codec().encode("Erasure", request), topic="raw")
    )
    enricher = Enricher.from_file(CONFIG_DIR / "intents.yaml")
    events = [raw_contact("1"), erase, raw_contact("2"), erase]

    routed = route_batch(events, codec(), enricher, lambda _: None, 10 * MIN)  # type: ignore[arg-type]

    assert not routed.dead
    contact_key = timeline_key("acme", "handle:jane")
    erase_key = timeline_key("acme", "cust-jane-7")
    assert [k for k, _ in routed.keyed] == [contact_key, erase_key, contact_key, erase_key]
    assert codec().decode(routed.keyed[1][1], expect="Erasure") == request


def tombstone(key: bytes, revision: int | None) -> Any:
    headers = [(REVISION_HEADER, str(revision).encode())] if revision is not None else []
    return SimpleNamespace(key=key, value=None, headers=headers, topic="t", partition=0, offset=0)


def test_the_index_stage_deletes_contacts_at_the_tombstones_revision_and_events_unversioned() -> (
    None
):
    built = index.contact_actions([tombstone(b"id-1", 8)], codec(), "index_contacts")
    assert [(a.doc_id, a.doc, a.version) for a in built.actions] == [("id-1", None, 8)]
    # an SLA event is written without a version: a versioned delete could lose to it
    events = index.sla_actions([tombstone(b"ev-1", 8)], codec(), "index_sla")
    assert [(a.doc_id, a.doc, a.version) for a in events.actions] == [("ev-1", None, None)]
    conversations = index.conversation_actions([tombstone(b"c-1", 5)], codec(), "index_conv")
    assert [(a.doc_id, a.version) for a in conversations.actions] == [("c-1", 5)]
