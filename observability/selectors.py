"""The one definition every rule and dashboard builds from: jobs, label matchers, metric and
recording-rule names, and the few expressions both sides share.

Names are those exported by streams/metrics.py, streams/policy_reload.py,
services/ingest/metrics.py and services/nudges.py (a unit test checks every name read here,
in the rules and in the panels exists there); the job names
are those of deploy/prometheus/prometheus.yml's scrape configs (checked the same way).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    """A Prometheus scrape job: one target per process."""

    name: str

    @property
    def matcher(self) -> str:
        return f'job="{self.name}"'


WORKER = Job("ascolto-worker")
INGEST = Job("ascolto-ingest")
JOBS = (INGEST, WORKER)
ANY_JOB = f'job=~"{"|".join(job.name for job in JOBS)}"'
# The support team's tools: scraped while they run (`ascolto nudger --metrics-port`), never
# counted among the pipeline's processes above.
NUDGER = Job("ascolto-nudger")
TOOL_JOBS = (NUDGER,)


@dataclass(frozen=True)
class Histogram:
    """A histogram's three series."""

    name: str

    @property
    def bucket(self) -> str:
        return f"{self.name}_bucket"

    @property
    def sum(self) -> str:
        return f"{self.name}_sum"

    @property
    def count(self) -> str:
        return f"{self.name}_count"


def sel(metric: str, *matchers: str) -> str:
    """`metric{m1, m2}`: a selector with the given label matchers."""
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


UP = "up"

# Ingest (services/ingest/metrics.py)
INGEST_RECEIVED = "ascolto_ingest_contacts_received_total"
INGEST_REJECTED = "ascolto_ingest_contacts_rejected_total"
INGEST_PUBLISHED = "ascolto_ingest_contacts_published_total"
INGEST_PUBLISH_ERRORS = "ascolto_ingest_publish_errors_total"
INGEST_REQUEST_SECONDS = Histogram("ascolto_ingest_request_duration_seconds")
INGEST_BATCH_SIZE = Histogram("ascolto_ingest_batch_size")

# Worker: the pipeline (streams/metrics.py)
PROCESSED = "ascolto_contacts_processed_total"
INDEXED = "ascolto_documents_indexed_total"
DEDUPLICATED = "ascolto_contacts_deduplicated_total"
DEAD_LETTERED = "ascolto_contacts_dead_lettered_total"
RECORDS_PUBLISHED = "ascolto_records_published_total"
END_TO_END_LATENCY = Histogram("ascolto_end_to_end_latency_seconds")
STAGE_WAIT = Histogram("ascolto_stage_wait_seconds")
STAGE_DURATION = Histogram("ascolto_stage_duration_seconds")
BATCH_SIZE = Histogram("ascolto_batch_size")
BATCH_RETRIES = "ascolto_batch_retries_total"
BULK_ERRORS = "ascolto_elasticsearch_bulk_errors_total"
BULK_RETRIES = "ascolto_elasticsearch_bulk_retries_total"
CONSUMER_LAG = "ascolto_consumer_lag_messages"
WATERMARK = "ascolto_event_time_watermark_seconds"
TIMELINES = "ascolto_customer_timelines"
EVICTED = "ascolto_conversations_evicted_total"
GC_PAUSES = Histogram("ascolto_gc_pause_seconds")

# Worker: the customers (streams/metrics.py)
INBOUND = "ascolto_inbound_contacts_total"
SLA_EVENTS = "ascolto_sla_events_total"
RESPONSE_TIME = Histogram("ascolto_response_time_seconds")
OPEN_CONVERSATIONS = "ascolto_open_conversations"
UNANSWERED = "ascolto_unanswered_contacts"
AWAITING = "ascolto_awaiting_answer_conversations"
OLDEST_UNANSWERED = "ascolto_oldest_unanswered_age_seconds"
PAST_HARD_LIMIT = "ascolto_unanswered_past_hard_limit_contacts"
SLA_POLICY_REFUSED = "ascolto_sla_policy_refused_total"  # streams/policy_reload.py
SLA_POLICY_SINCE = "ascolto_sla_policy_since_seconds"

# The nudger (services/nudges.py)
NUDGES = "ascolto_nudges_total"
NUDGE_WEBHOOK_RETRIES = "ascolto_nudge_webhook_retries_total"
NUDGE_WEBHOOK_REFUSALS = "ascolto_nudge_webhook_refusals_total"
NUDGER_SERIES = (NUDGES, NUDGE_WEBHOOK_RETRIES, NUDGE_WEBHOOK_REFUSALS)


def reads_nudger(expr: str) -> bool:
    """Whether a query reads the nudger's series: data only while a nudger runs."""
    return any(series in expr for series in NUDGER_SERIES)


# Recording rules (observability/recording.py), named level:metric:operations
BRAND_INBOUND_RATE10M = "brand:ascolto_inbound_contacts:rate10m"
BRAND_INBOUND_BASELINE = "brand:ascolto_inbound_contacts:rate10m_baseline"
BRAND_NEGATIVE_RATIO = "brand:ascolto_inbound_contacts:negative_ratio_rate30m"
TOPIC_LAG = "topic:ascolto_consumer_lag_messages:sum"
EVENT_TIME_LAG = "ascolto:event_time_lag_seconds"

# Label matchers
LIVE = 'clock="live"'  # contacts that reached ingest on time; an imported archive is "replay"
NEGATIVE = 'sentiment="negative"'
RESPONSE_TARGETS = 'target=~"first_response|next_response"'
FIRST_RESPONSE = 'target="first_response"'


def grouped(by: str) -> str:
    """What follows an aggregation's name: ` by (brand, channel) `, or nothing for one total."""
    return f" by ({by}) " if by else ""


def sum_rate(metric: str, window: str, by: str = "") -> str:
    """`sum by (by) (rate(metric[window]))`: per second, summed over the processes."""
    return f"sum{grouped(by)}(rate({metric}[{window}]))"


def sum_increase(metric: str, window: str, by: str = "") -> str:
    """`sum by (by) (increase(metric[window]))`: how many over the window."""
    return f"sum{grouped(by)}(increase({metric}[{window}]))"


def share(part: str, whole: str) -> str:
    """part / whole, one per line; no value (not a division by zero) while whole is 0."""
    return f"{part}\n/\n({whole} > 0)"


def sla_events(event_types: str, *matchers: str) -> str:
    """ascolto_sla_events_total of these event types ("met|breached"), filtered."""
    op = "=~" if "|" in event_types else "="
    return sel(SLA_EVENTS, f'event_type{op}"{event_types}"', *matchers)


def lag_by_topic(*matchers: str) -> str:
    """Messages waiting per source topic. A partition is counted once even if a worker
    still reports it for a moment after a rebalance moved it elsewhere."""
    return f"sum by (topic) (max by (topic, partition) ({sel(CONSUMER_LAG, *matchers)}))"


# The share of owed answers given in time that the business aims for (met / judged): the
# SLA overview's colours and SlaBreachRateHigh's description.
COMPLIANCE_OBJECTIVE = 0.95
