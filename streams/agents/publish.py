"""Publishing what the thread stage derived: contacts, conversations, SLA events, metrics."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import faust

from schemas import Codec
from streams.agents.index import REVISION_HEADER
from streams.agents.thread import Threaded
from streams.metrics import WorkerMetrics


@dataclass
class Outputs:
    codec: Codec
    metrics: WorkerMetrics
    enriched: faust.TopicT
    conversations: faust.TopicT
    sla_events: faust.TopicT

    async def publish(self, out: Threaded) -> list[Awaitable[Any]]:
        """Send everything (buffered by the producer); return the delivery futures."""
        encode = self.codec.encode
        sent: list[Awaitable[Any]] = []
        for key, record in out.contacts:
            sent.append(await self.enriched.send(key=key, value=encode("EnrichedContact", record)))
        for key, conv in out.conversations:
            if conv is None:  # tombstone, versioned so a late delete never wins
                headers = {REVISION_HEADER: str(out.revision).encode()}
                sent.append(await self.conversations.send(key=key, value=None, headers=headers))
            else:
                value = encode("Conversation", conv)
                sent.append(await self.conversations.send(key=key, value=value))
        for event in out.sla_events:
            value = encode("SlaEvent", event)
            sent.append(await self.sla_events.send(key=event["event_id"].encode(), value=value))
        for event_id in out.sla_retractions:
            sent.append(await self.sla_events.send(key=event_id.encode(), value=None))
        self._count(out)
        return sent

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
            m.response_seconds.labels(message["channel"], message["brand"], target).observe(
                view.response_time_s or 0.0
            )
        for event in out.sla_events:
            m.sla_events.labels(
                event["event_type"], event["target"], event["brand"], event["channel"]
            ).inc()
