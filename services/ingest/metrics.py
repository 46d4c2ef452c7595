"""The ingest service's metrics: names, help, units and labels in one place."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CHANNELS = ("social", "email", "web_form", "chat", "phone")
# 401, 403, 429: services.ingest.auth.verify.Refused.metric; no key id as a label (cardinality)
REFUSALS = ("unauthenticated", "out_of_scope", "rate_limited")


@dataclass(frozen=True)
class IngestMetrics:
    received: Counter
    rejected: Counter
    refused_requests: Counter
    published: Counter
    publish_errors: Counter
    request_seconds: Histogram
    batch_size: Histogram
    ready: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IngestMetrics:
        m = cls(
            received=Counter(
                "ascolto_ingest_contacts_received",
                "Contacts received over HTTP, valid or not.",
                registry=registry,
            ),
            rejected=Counter(
                "ascolto_ingest_contacts_rejected",
                "Contacts refused at the door (never published), by reason.",
                ["reason"],
                registry=registry,
            ),
            refused_requests=Counter(
                "ascolto_ingest_requests_refused",
                "Requests refused for their credential (unauthenticated), a contact outside "
                "the key's scope (out_of_scope) or the key's rate (rate_limited).",
                ["reason"],
                registry=registry,
            ),
            published=Counter(
                "ascolto_ingest_contacts_published",
                "Contacts acknowledged by Kafka on the raw topic.",
                ["channel"],
                registry=registry,
            ),
            publish_errors=Counter(
                "ascolto_ingest_publish_errors",
                "Contacts Kafka did not acknowledge (the request failed with 503).",
                registry=registry,
            ),
            request_seconds=Histogram(
                "ascolto_ingest_request_duration_seconds",
                "Time to validate and publish one request, until Kafka acknowledged it.",
                ["outcome"],
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                registry=registry,
            ),
            batch_size=Histogram(
                "ascolto_ingest_batch_size",
                "Contacts per request.",
                buckets=(1, 5, 10, 50, 100, 500, 1000, 5000),
                registry=registry,
            ),
            ready=Gauge(
                "ascolto_ready",
                "1 while ingest's readiness check passes, 0 while it fails (/readyz: kafka).",
                ["check"],
                registry=registry,
            ),
        )
        for channel in CHANNELS:  # export zeros so rates exist before the first contact
            m.published.labels(channel)
        for reason in ("invalid", "malformed_json", "too_large", *REFUSALS):
            m.rejected.labels(reason)
        for reason in REFUSALS:
            m.refused_requests.labels(reason)
        return m
