"""The route stage: what it makes of a batch of raw contacts, and where it sends them."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from prometheus_client import CollectorRegistry

from ascolto.config import CONFIG_DIR
from ascolto.validation import validate
from schemas import codec
from streams.customers import timeline_key
from streams.metrics import WorkerMetrics
from streams.rules.enrich import Enricher
from streams.sinks.dead_letter import DeadLetterSender
from streams.stages.route import Directory, RouteStage, route_batch
from tests.support.stage_fakes import AcknowledgingProducer, Log

MIN = 60_000
HAPPENED = 1_790_000_000_000


def raw_event(source_id: str, received_at: int, body: str = "my order never arrived") -> object:
    contact = validate(
        {
            "source": "twitter",
            "source_id": source_id,
            "channel": "social",
            "direction": "inbound",
            "brand": "acme",
            "customer_handle": "@jane",
            "occurred_at": HAPPENED,
            "body": body,
        },  # fmt: skip
        received_at=received_at,
    )
    value = codec().encode("Contact", contact)
    return SimpleNamespace(message=SimpleNamespace(value=value, topic="raw", partition=0, offset=0))


def test_live_traffic_and_replays_are_told_apart_for_the_volume_metrics() -> None:
    events = [
        raw_event("1", received_at=HAPPENED + 2 * MIN),  # within the allowed lateness
        raw_event("2", received_at=HAPPENED + 3 * 24 * 60 * MIN),  # an archive, days later
    ]
    enricher = Enricher.from_file(CONFIG_DIR / "intents.yaml")
    routed = route_batch(events, codec(), enricher, lambda _: None, 10 * MIN)  # type: ignore[arg-type]
    assert not routed.dead
    assert [clock for *_, clock in routed.inbound] == ["live", "replay"]


def test_the_route_stage_keys_a_known_customer_by_their_profile_and_dead_letters_the_rest() -> None:
    log: Log = []
    producer = AcknowledgingProducer(log)
    metrics = WorkerMetrics.create(CollectorRegistry(), ("c", "v", "s"))
    directory = Directory({}, codec())
    profile = {"customer_id": "cust-9", "account_id": None, "name": None, "tier": "gold"}
    jane = codec().encode("Customer", {**profile, "handles": ["@jane"], "emails": []})
    directory.load(b"handle:jane", jane)
    directory.load(b"handle:gone", b"stale")
    directory.load(b"handle:gone", None)  # deleted from the directory
    stage = RouteStage(
        codec(),
        Enricher.from_file(CONFIG_DIR / "intents.yaml"),
        directory,
        producer,
        "t.keyed",
        DeadLetterSender(producer, "t.dlq", metrics),
        metrics,
        lateness_ms=10 * MIN,
    )
    broken = SimpleNamespace(
        message=SimpleNamespace(value=b"junk", key=None, topic="raw", partition=0, offset=1)
    )

    asyncio.run(stage.handle([raw_event("1", received_at=HAPPENED + MIN), broken]))

    assert [(what, topic) for what, topic, _ in log if what == "send"] == [
        ("send", "t.keyed"),
        ("send", "t.dlq"),
    ]
    keyed = codec().decode(producer.values["t.keyed", timeline_key("acme", "cust-9")])
    assert (keyed["customer_id"], keyed["tier"]) == ("cust-9", "gold")
    assert directory.lookup("handle:gone") is None


def test_a_customers_record_that_is_no_profile_is_dead_lettered_not_kept() -> None:
    directory = Directory({}, codec())
    profile = {"customer_id": "cust-9", "account_id": None, "name": None, "tier": "gold"}
    jane = codec().encode("Customer", {**profile, "handles": ["@jane"], "emails": []})

    def record(value: bytes | None, offset: int) -> SimpleNamespace:
        return SimpleNamespace(
            key=b"handle:jane", value=value, topic="t.customers", partition=3, offset=offset,
            headers=None,
        )  # fmt: skip

    assert directory.take(record(jane, 1)) is None
    letter = directory.take(record(b"poison", 2))

    assert letter is not None
    assert (letter.stage, letter.reason_code, letter.source_offset) == ("directory", "decode", 2)
    assert letter.original == b"poison" and letter.reason
    # the profile before it still answers: a contact of jane's is routed, not failed
    assert directory.lookup("handle:jane") == codec().decode(jane)
