"""Publishing what the thread stage derived: contacts, conversations, SLA events, metrics."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from schemas import Codec
from streams.metrics import WorkerMetrics
from streams.sinks.producer import Producer
from streams.stages.records import REVISION_HEADER
from streams.stages.timeline import Threaded


@dataclass
class Outputs:
    """The thread stage's output topics, written through faust's own producer.

    Not through ``Topic.send``: the stage sends four to five records per contact, and in
    the bench a ``Topic.send`` took 0.2-0.3 ms on average (4-6 % of them over 0.5 ms),
    against 13 us for the producer's own send; publishing was two thirds of the stage's
    time. Faust flushes this producer before it commits offsets, so at-least-once holds as
    with ``Topic.send``.
    """

    codec: Codec
    metrics: WorkerMetrics
    producer: Producer
    enriched: str
    conversations: str
    sla_events: str
    audit: str | None = None  # what erasures removed (streams.stages.erasure)

    async def publish(self, out: Threaded) -> list[Awaitable[Any]]:
        """Send everything (buffered by the producer); return the delivery futures."""
        encode, send = self.codec.encode, self.producer.send
        sent: list[Awaitable[Any]] = []
        # tombstones are versioned so that a late delete never wins over a newer record
        versioned = {REVISION_HEADER: str(out.revision).encode()}
        for key, record in out.contacts:
            value = encode("EnrichedContact", record)
            sent.append(await send(self.enriched, key, value, None, None, None))
        for contact_id in out.contact_tombstones:
            sent.append(await send(self.enriched, contact_id.encode(), None, None, None, versioned))
        for key, conv in out.conversations:
            if conv is None:  # merged into another, or erased
                sent.append(await send(self.conversations, key, None, None, None, versioned))
            else:
                value = encode("Conversation", conv)
                sent.append(await send(self.conversations, key, value, None, None, None))
        for event in out.sla_events:
            value = encode("SlaEvent", event)
            key = event["event_id"].encode()
            sent.append(await send(self.sla_events, key, value, None, None, None))
        for event_id in out.sla_retractions:
            sent.append(await send(self.sla_events, event_id.encode(), None, None, None, None))
        self._count(out)
        return sent

    async def publish_audit(self, request_id: str, event: dict[str, Any]) -> Awaitable[Any]:
        """An AuditEvent (no personal data), keyed by the request; the delivery future."""
        if self.audit is None:
            raise RuntimeError("Outputs.audit: no audit topic given")
        value = self.codec.encode("AuditEvent", event)
        return await self.producer.send(self.audit, request_id.encode(), value, None, None, None)

    def _count(self, out: Threaded) -> None:
        m = self.metrics
        m.deduplicated.labels("exact").inc(out.exact_duplicates)
        m.deduplicated.labels("near").inc(out.near_duplicates)
        m.evicted.inc(out.evicted)
        m.published.labels("contacts.enriched").inc(len(out.contacts))
        m.published.labels("conversations").inc(len(out.conversations))
        m.published.labels("sla.events").inc(len(out.sla_events))
        for message, view, first in out.answered:
            target = "first_response" if first else "next_response"
            brand = m.brand(message["brand"])
            m.response_seconds.labels(message["channel"], brand, target).observe(
                view.response_time_s or 0.0
            )
        for event in out.sla_events[: len(out.sla_events) - out.sla_events_uncounted]:
            m.sla_events.labels(
                event["event_type"], event["target"], m.brand(event["brand"]), event["channel"],
                event["clock"],
            ).inc()  # fmt: skip
