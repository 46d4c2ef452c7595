"""route_batch: what the route stage makes of a batch of raw contacts."""

from __future__ import annotations

from types import SimpleNamespace

from ascolto.config import CONFIG_DIR
from ascolto.validation import validate
from schemas import codec
from streams.agents.route import route_batch
from streams.rules.enrich import Enricher

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
