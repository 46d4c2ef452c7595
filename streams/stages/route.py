"""Route stage: contacts.raw -> contacts.keyed.

Decode and re-validate each contact (bad ones go to the dead-letter topic with the reason),
recognise the customer from the directory, enrich, and re-key by brand + customer so that
one customer's contacts, across channels, meet in one partition of the thread stage.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from faust.types import EventT

from ascolto.validation import InvalidContact, validate
from schemas import Codec, DecodeError
from streams.customers import Identity, Lookup, resolve, timeline_key
from streams.metrics import WorkerMetrics, observe_waits
from streams.rules.enrich import Enricher
from streams.sinks.dead_letter import DeadLetter, DeadLetterSender, SourceMessage
from streams.sinks.producer import Producer
from streams.sla.watermark import is_live

STAGE = "route"


@dataclass
class Routed:
    keyed: list[tuple[bytes, bytes]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    channels: list[tuple[str, str]] = field(default_factory=list)
    # (brand, channel, sentiment, priority, clock) of each customer message
    inbound: list[tuple[str, str, str, str | None, str]] = field(default_factory=list)
    groups: set[tuple[str, str]] = field(default_factory=set)  # (brand, channel) seen
    started_ms: int = 0
    received_ms: list[int] = field(default_factory=list)  # when ingest took each valid contact


def enriched_record(
    contact: dict[str, Any], enrichment: dict[str, Any], identity: Any, now_ms: int
) -> dict[str, Any]:
    """The EnrichedContact as the route stage knows it: no conversation or answer yet."""
    inbound_message = contact["direction"] == "inbound" and contact["kind"] == "message"
    return {
        "contact": contact,
        "language": enrichment["language"],
        "sentiment_score": enrichment["sentiment_score"],
        "sentiment_label": enrichment["sentiment_label"],
        "sentiment_supported": enrichment.get("sentiment_supported", True),
        "intent": enrichment["intent"],
        "visibility": enrichment["visibility"],
        "priority": enrichment["priority"],
        "asks_customer": bool(enrichment.get("asks_customer", False)),
        "fingerprint": enrichment["fingerprint"] if inbound_message else None,
        "customer_id": identity.customer_id,
        "account_id": identity.account_id,
        "tier": identity.tier,
        "conversation_id": None,
        "duplicate_of": None,
        "owed_answer": False,
        "answered_by": None,
        "answered_at": None,
        "response_time_seconds": None,
        "revision": 0,
        "is_update": False,
        "processed_at": now_ms,
    }


def route_batch(
    events: Sequence[EventT],
    codec: Codec,
    enricher: Enricher,
    lookup: Lookup,
    lateness_ms: int,
) -> Routed:
    """Decode, validate, identify and enrich a batch; ``lateness_ms`` tells live traffic
    from replays in the metrics (streams.sla.watermark)."""
    now_ms = int(time.time() * 1000)
    out = Routed(started_ms=now_ms)
    valid: list[tuple[EventT, dict[str, Any], Identity]] = []
    erasures: list[tuple[int, bytes, bytes]] = []  # (after how many valid contacts, key, value)
    for event in events:
        try:
            name, contact = codec.decode_any(event.message.value)
            if name == "Erasure":
                erasures.append(
                    (len(valid), erasure_key(contact), codec.encode("Erasure", contact))
                )
                continue
            if name != "Contact":
                raise DecodeError(f"expected a Contact message, got a {name}")
        except DecodeError as exc:
            out.dead.append(DeadLetter.of_event(event, STAGE, "decode", str(exc)))
            continue
        try:
            contact = validate(contact, received_at=contact["received_at"])
        except InvalidContact as exc:
            out.dead.append(
                DeadLetter.of_event(event, STAGE, "validation", str(exc), contact["contact_id"])
            )
            continue
        valid.append((event, contact, resolve(contact, lookup)))
        out.received_ms.append(contact["received_at"])

    pending = iter(erasures)
    erasure = next(pending, None)
    for position, ((_, contact, identity), enrichment) in enumerate(
        zip(valid, _enrich_all(enricher, valid, out), strict=True)
    ):
        while erasure is not None and erasure[0] <= position:
            out.keyed.append(erasure[1:])
            erasure = next(pending, None)
        if enrichment is None:
            continue
        record = enriched_record(contact, dict(enrichment), identity, now_ms)
        key = timeline_key(contact["brand"], identity.customer_id)
        out.keyed.append((key, codec.encode("EnrichedContact", record)))
        out.channels.append((contact["channel"], contact["direction"]))
        out.groups.add((contact["brand"], contact["channel"]))
        if contact["direction"] == "inbound" and contact["kind"] == "message":
            out.inbound.append(
                (
                    contact["brand"],
                    contact["channel"],
                    record["sentiment_label"],
                    record["priority"],
                    "live" if is_live(contact, lateness_ms) else "replay",
                )
            )
    if erasure is not None:
        out.keyed.append(erasure[1:])
    out.keyed += [(key, value) for _, key, value in pending]
    return out


def erasure_key(request: dict[str, Any]) -> bytes:
    """An erase request (``ascolto erase``) goes where the customer's contacts went: after
    every contact of theirs that came before it on this partition (docs/privacy.md)."""
    return timeline_key(request["brand"], request["customer_id"])


def _enrich_all(
    enricher: Enricher, valid: list[tuple[EventT, dict[str, Any], Identity]], out: Routed
) -> list[Any]:
    """Batch enrichment (lingua detects a batch on both cores); if the batch fails, one by
    one, so that only the contact that breaks a rule goes to the dead-letter topic."""
    contacts = [c for _, c, _ in valid]
    try:
        return list(enricher.enrich_many(contacts, [i.tier for _, _, i in valid]))
    except Exception:
        pass
    results: list[Any] = []
    for event, contact, identity in valid:
        try:
            results.append(enricher.enrich(contact, identity.tier))
        except Exception as exc:  # a rule blowing up on one text must not stop the stream
            reason = f"enrichment failed: {type(exc).__name__}: {exc}"
            out.dead.append(
                DeadLetter.of_event(event, STAGE, "enrichment", reason, contact["contact_id"])
            )
            results.append(None)
    return results


class Directory:
    """The customer directory: identity (``handle:...``, ``email:...``) -> encoded profile,
    in a table every worker holds whole (every worker needs every customer to route any
    contact), each profile decoded once."""

    def __init__(self, table: MutableMapping[bytes, bytes], codec: Codec) -> None:
        self.table = table
        self._profile = lru_cache(maxsize=65536)(partial(codec.decode, expect="Customer"))

    def load(self, key: bytes | None, value: bytes | None) -> None:
        """One record of the customers topic: a profile, or None to delete it."""
        if not key:
            return
        if value is None:
            self.table.pop(key, None)
        else:
            self.table[key] = value

    def take(self, message: SourceMessage) -> DeadLetter | None:
        """One record of the customers topic, its profile checked first: one that is not a
        Customer is dead-lettered and not kept, since a contact of that identity would fail
        to decode it and stop the route stage's batch."""
        if message.key and message.value is not None:
            try:
                self._profile(message.value)
            except DecodeError as exc:
                return DeadLetter.of_message(message, "directory", "decode", str(exc))
        self.load(message.key, message.value)
        return None

    def lookup(self, identity: str) -> dict[str, Any] | None:
        raw_profile = self.table.get(identity.encode())
        return self._profile(raw_profile) if raw_profile else None


class RouteStage:
    """A batch of contacts.raw routed: the keyed records sent, the bad ones dead-lettered,
    the volume metrics counted."""

    def __init__(
        self,
        codec: Codec,
        enricher: Enricher,
        directory: Directory,
        producer: Producer,
        keyed_topic: str,
        dead_letters: DeadLetterSender,
        metrics: WorkerMetrics,
        lateness_ms: int,
    ) -> None:
        self.codec, self.enricher, self.directory = codec, enricher, directory
        self.producer, self.keyed_topic, self.dead_letters = producer, keyed_topic, dead_letters
        self.metrics, self.lateness_ms = metrics, lateness_ms
        self.waited = metrics.stage_wait.labels(STAGE)

    async def handle(self, events: Sequence[EventT]) -> None:
        routed = route_batch(
            events, self.codec, self.enricher, self.directory.lookup, self.lateness_ms
        )
        observe_waits(self.waited, routed.started_ms, routed.received_ms)
        for key, value in routed.keyed:
            await self.producer.send(self.keyed_topic, key, value, None, None, None)
        await self.dead_letters.send(routed.dead)
        metrics = self.metrics
        for channel, direction in routed.channels:
            metrics.processed.labels(channel, direction).inc()
        metrics.first_sight(sorted(routed.groups))  # sorted: which brands come first
        for brand, channel, sentiment, priority, clock in routed.inbound:
            metrics.inbound.labels(
                metrics.brand(brand), channel, sentiment, priority or "none", clock
            ).inc()
        metrics.published.labels("contacts.keyed").inc(len(routed.keyed))
