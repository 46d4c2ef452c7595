"""The worker's metrics: names, help, units and label sets in one place.

Labels take bounded values only (channel, direction, stage, reason, kind, index, and the
brand through BrandLabels): never a customer, contact or conversation id. Each worker
process serves its own registry on its own web port, and Prometheus scrapes every worker as
a separate target.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Stage = Literal[
    "route", "thread", "index_contacts", "index_conversations", "index_sla", "sla", "index"
]
STAGES: tuple[Stage, ...] = (
    "route", "thread", "index_contacts", "index_conversations", "index_sla", "sla", "index",
)  # fmt: skip
# ascolto_stage_wait_seconds times each contact from ingest to these stages' batches
WAIT_STAGES: tuple[Stage, ...] = ("route", "thread")
CHANNELS = ("social", "email", "web_form", "chat", "phone")
DLQ_REASONS = ("decode", "schema", "validation", "enrichment", "index_mapping")
GC_GENERATIONS = ("0", "1", "2")  # Python's collector: 2 is the full pass
# live: the contact reached us within the allowed lateness of happening (the customer's SLA
# clocks run on the wall clock); replay: an archive or a backlog (streams.sla.watermark).
# Alerts on volume and breach rates count live traffic only, so an import never pages.
CLOCKS = ("live", "replay")

# From sub-second live processing to a day-long replay backlog.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 86400)
# Response times: seconds (chat) to days (email backlog).
RESPONSE_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400,
                    172800, 604800)  # fmt: skip
# A batch's time includes its retries, so the top buckets see an outage's minutes.
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                 10, 30, 60, 300)  # fmt: skip
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)
GC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)


log = logging.getLogger(__name__)


class BrandLabels:
    """The brand label's values, bounded: ingest takes any brand name, and every new one would
    add a few hundred series per worker. Brands listed (``ASCOLTO_METRIC_BRANDS``) keep their
    name and every other brand counts as ``(other)``; with no list, the first ``limit`` brands
    seen keep theirs. Each worker picks its own first ones, so name the brands you serve when
    there are more than the limit."""

    OTHER = "(other)"

    def __init__(self, listed: Iterable[str] = (), limit: int = 100) -> None:
        self._named = set(listed)
        self._grows = not self._named
        self.limit = limit
        self._warned = False

    def __call__(self, brand: str) -> str:
        if brand in self._named:
            return brand
        if self._grows and len(self._named) < self.limit:
            self._named.add(brand)
            return brand
        if not self._warned:
            self._warned = True
            log.warning(
                "brand %r and those after it count as %s in the metrics: %s",
                brand, self.OTHER,
                "not in ASCOLTO_METRIC_BRANDS" if not self._grows
                else f"more than ASCOLTO_METRIC_BRANDS_MAX={self.limit} brands",
            )  # fmt: skip
        return self.OTHER


@dataclass(frozen=True)
class WorkerMetrics:
    registry: CollectorRegistry
    processed: Counter
    indexed: Counter
    deduplicated: Counter
    dead_lettered: Counter
    published: Counter
    latency: Histogram
    stage_wait: Histogram
    stage_seconds: Histogram
    batch_size: Histogram
    bulk_errors: Counter
    bulk_retries: Counter
    response_seconds: Histogram
    timelines: Gauge
    evicted: Counter
    trimmed: Counter
    timelines_expired: Counter
    batch_retries: Counter
    inbound: Counter
    sla_events: Counter
    open_conversations: Gauge
    unanswered: Gauge
    awaiting: Gauge
    oldest_unanswered_seconds: Gauge
    past_hard_limit: Gauge
    consumer_lag: Gauge
    watermark_seconds: Gauge
    gc_pauses: Histogram
    ready: Gauge
    brand: BrandLabels = field(default_factory=BrandLabels)
    _sighted: set[tuple[str, str]] = field(default_factory=set, init=False)  # (label, channel)

    @classmethod
    def create(
        cls,
        registry: CollectorRegistry,
        indices: tuple[str, ...] = (),
        brands: BrandLabels | None = None,
    ) -> WorkerMetrics:
        m = cls(
            registry=registry,
            brand=brands or BrandLabels(),
            processed=Counter(
                "ascolto_contacts_processed",
                "Contacts decoded, validated and enriched by the route stage.",
                ["channel", "direction"],
                registry=registry,
            ),
            indexed=Counter(
                "ascolto_documents_indexed",
                "Documents Elasticsearch accepted (bulk items created or updated).",
                ["index"],
                registry=registry,
            ),
            deduplicated=Counter(
                "ascolto_contacts_deduplicated",
                "Contacts recognised as duplicates: exact redeliveries (dropped) and "
                "near-duplicates (kept, linked to the original).",
                ["kind"],
                registry=registry,
            ),
            dead_lettered=Counter(
                "ascolto_contacts_dead_lettered",
                "Messages sent to the dead-letter topic, by stage and reason.",
                ["stage", "reason"],
                registry=registry,
            ),
            published=Counter(
                "ascolto_records_published",
                "Records published to output topics.",
                ["topic"],
                registry=registry,
            ),
            latency=Histogram(
                "ascolto_end_to_end_latency_seconds",
                "From ingest's received_at to the contact being indexed in Elasticsearch.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            stage_wait=Histogram(
                "ascolto_stage_wait_seconds",
                "From ingest's received_at to the start of the batch of a stream stage that "
                "takes the contact: where the end-to-end latency builds up, hop by hop.",
                ["stage"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            stage_seconds=Histogram(
                "ascolto_stage_duration_seconds",
                "Processing time of one batch in a stage, I/O included.",
                ["stage"],
                buckets=STAGE_BUCKETS,
                registry=registry,
            ),
            batch_size=Histogram(
                "ascolto_batch_size",
                "Messages per batch taken from a topic.",
                ["stage"],
                buckets=BATCH_BUCKETS,
                registry=registry,
            ),
            bulk_errors=Counter(
                "ascolto_elasticsearch_bulk_errors",
                "Bulk items Elasticsearch refused: retryable (429, 5xx) or permanent.",
                ["index", "kind"],
                registry=registry,
            ),
            bulk_retries=Counter(
                "ascolto_elasticsearch_bulk_retries",
                "Bulk requests (and their placement lookups) retried after a retryable failure.",
                ["index"],
                registry=registry,
            ),
            response_seconds=Histogram(
                "ascolto_response_time_seconds",
                "Event-time response time of answered customer messages.",
                ["channel", "brand", "target"],
                buckets=RESPONSE_BUCKETS,
                registry=registry,
            ),
            timelines=Gauge(
                "ascolto_customer_timelines",
                "Customer timelines held in this worker's table partitions.",
                registry=registry,
            ),
            evicted=Counter(
                "ascolto_conversations_evicted",
                "Conversations dropped from state after the retention period.",
                registry=registry,
            ),
            trimmed=Counter(
                "ascolto_conversations_trimmed",
                "Conversations dropped from a customer's timeline, oldest first, to keep its "
                "state under the record size Kafka takes (a customer with very long histories).",
                registry=registry,
            ),
            timelines_expired=Counter(
                "ascolto_customer_timelines_expired",
                "Customer timelines dropped whole: silent for the retention period.",
                registry=registry,
            ),
            batch_retries=Counter(
                "ascolto_batch_retries",
                "Batches retried after an unexpected failure (the batch stays unacknowledged).",
                ["stage"],
                registry=registry,
            ),
            inbound=Counter(
                "ascolto_inbound_contacts",
                "Customer messages by brand, channel, sentiment, priority and clock (live "
                "traffic or replay): mention volume.",
                ["brand", "channel", "sentiment", "priority", "clock"],
                registry=registry,
            ),
            sla_events=Counter(
                "ascolto_sla_events",
                "SLA events emitted: warning, met, breached; by target kind and clock (live "
                "or replay). Each event once: a redelivery republishes it uncounted.",
                ["event_type", "target", "brand", "channel", "clock"],
                registry=registry,
            ),
            open_conversations=Gauge(
                "ascolto_open_conversations",
                "Conversations neither closed nor resolved, in this worker's partitions.",
                ["brand", "channel"],
                registry=registry,
            ),
            unanswered=Gauge(
                "ascolto_unanswered_contacts",
                "Customer messages owed an answer and not answered yet.",
                ["brand", "channel"],
                registry=registry,
            ),
            awaiting=Gauge(
                "ascolto_awaiting_answer_conversations",
                "Open conversations with a customer message still owed an answer.",
                ["brand", "channel"],
                registry=registry,
            ),
            oldest_unanswered_seconds=Gauge(
                "ascolto_oldest_unanswered_age_seconds",
                "Age of the oldest customer message still owed an answer: wall-clock time for "
                "live traffic, event time for replays (calendar hours, not business hours).",
                ["brand", "channel"],
                registry=registry,
            ),
            past_hard_limit=Gauge(
                "ascolto_unanswered_past_hard_limit_contacts",
                "Customer messages of live traffic still unanswered past their hard limit, as "
                "the SLA clock judges it (business hours and pauses included).",
                ["brand", "channel"],
                registry=registry,
            ),
            consumer_lag=Gauge(
                "ascolto_consumer_lag_messages",
                "Messages in a source partition not yet processed by this worker.",
                ["topic", "partition"],
                registry=registry,
            ),
            watermark_seconds=Gauge(
                "ascolto_event_time_watermark_seconds",
                "Event-time watermark (unix seconds) of this worker: replayed archives are "
                "judged against it.",
                registry=registry,
            ),
            gc_pauses=Histogram(
                "ascolto_gc_pause_seconds",
                "Pauses of Python's cyclic garbage collector, by generation: they stop the "
                "event loop, so every stage waits.",
                ["generation"],
                buckets=GC_BUCKETS,
                registry=registry,
            ),
            ready=Gauge(
                "ascolto_ready",
                "1 while this process's readiness check passes, 0 while it fails "
                "(/readyz: kafka, assignment, recovery, elasticsearch).",
                ["check"],
                registry=registry,
            ),
        )
        for channel in CHANNELS:
            for direction in ("inbound", "outbound"):
                m.processed.labels(channel, direction)
        for stage in STAGES:
            m.stage_seconds.labels(stage)
            m.batch_size.labels(stage)
        for stage in WAIT_STAGES:
            m.stage_wait.labels(stage)
        for kind in ("exact", "near"):
            m.deduplicated.labels(kind)
        # Zeros before the first failure: rate() and increase() need a sample before the jump.
        for stage in STAGES:
            m.batch_retries.labels(stage)
            for reason in DLQ_REASONS:
                m.dead_lettered.labels(stage, reason)
        for generation in GC_GENERATIONS:
            m.gc_pauses.labels(generation)
        for index in indices:
            m.indexed.labels(index)
            m.bulk_retries.labels(index)
            for kind in ("retryable", "permanent"):
                m.bulk_errors.labels(index, kind)
        return m

    def first_sight(self, groups: Iterable[tuple[str, str]]) -> None:
        """Create each new (brand, channel)'s series at zero (SLA events, mentions), so the
        first breach or the first negative mention is an increase Prometheus can see. Live ones
        only: the alerts read those; a replay's series start at its first event. Remembered by
        label, so what is remembered is as bounded as the labels."""
        for brand, channel in groups:
            labels = (self.brand(brand), channel)
            if labels in self._sighted:
                continue
            self._sighted.add(labels)
            for event_type in ("warning", "met", "breached"):
                for target in ("first_response", "next_response", "hard_limit", "resolution"):
                    self.sla_events.labels(event_type, target, *labels, "live")
            for sentiment in ("negative", "neutral", "positive"):
                for priority in ("P1", "P2", "P3", "P4"):
                    self.inbound.labels(*labels, sentiment, priority, "live")


def observe_waits(waited: Histogram, started_ms: int, received_ms: Iterable[int]) -> None:
    """Each contact's wait from ingest (received_at, ms) to a stage's batch started_ms."""
    for received in received_ms:
        waited.observe(max(0, started_ms - received) / 1000)


def export_lag(
    gauge: Gauge, lags: dict[tuple[str, str], int], exported: set[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Set each (topic, partition)'s lag and remove those exported before but not now: a
    partition a rebalance moved away is its new owner's to report, and a stale value here
    would add phantom lag to the topic's sum. Returns what is exported now."""
    for labels, lag in lags.items():
        gauge.labels(*labels).set(lag)
    for labels in exported - lags.keys():
        gauge.remove(*labels)
    return set(lags)
