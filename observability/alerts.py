"""Ascolto's alerts, one group per area; each has a section in docs/runbook.md.

`for` durations and windows assume a scrape/evaluation interval of 15s or less (the local
stack uses 5s). WorkerDown, IngestDown and PipelineStalled use 1m so a test (or a person)
sees them pending within seconds and firing within about 1-2 minutes.

Tests, one file per area: deploy/prometheus/tests/*.test.yml (`make check-observability`,
tests/unit/test_observability.py).
"""

from __future__ import annotations

from observability.rules import Alert, Group, RuleFile
from observability.selectors import (
    BRAND_INBOUND_BASELINE,
    BRAND_INBOUND_RATE10M,
    BRAND_NEGATIVE_RATIO,
    BULK_ERRORS,
    BULK_RETRIES,
    COMPLIANCE_OBJECTIVE,
    DEAD_LETTERED,
    INBOUND,
    INDEXED,
    INGEST,
    INGEST_PUBLISHED,
    LIVE,
    NEGATIVE,
    PAST_HARD_LIMIT,
    PROCESSED,
    RESPONSE_TARGETS,
    TOPIC_LAG,
    UP,
    WORKER,
    Job,
    sel,
    sla_events,
    sum_increase,
    sum_rate,
)
from observability.support_alerts import SUPPORT_TOOLS


def with_instance(found: str, none: str) -> str:
    """A Go template: `found`, with the alert's instance as `{{ . }}`; or `none` if absent."""
    return f"{{{{ with $labels.instance }}}}{found}{{{{ else }}}}{none}{{{{ end }}}}"


def target_down(name: str, job: Job, short: str, long: str, consequence: str) -> Alert:
    """Pending on the first failed scrape, firing 1m later. absent(): no target of the job
    configured at all (a broken scrape config is as bad as a dead process)."""
    up = sel(UP, job.matcher)
    where = with_instance("at {{ . }}", f"(no {job.name} target exists)")
    return Alert(
        name,
        f"{up} == 0 or absent({up})",
        "1m",
        "page",
        "platform",
        summary=f"Ascolto {short} {with_instance('{{ . }}', '(none configured)')} is down",
        description=f"Prometheus cannot scrape {long} {where} for 1 minute{consequence}",
    )


AVAILABILITY = Group(
    "ascolto-availability",
    [
        target_down(
            "WorkerDown",
            WORKER,
            "worker",
            "the Faust worker",
            ". Its partitions wait until it is back or another worker takes them over.",
        ),
        target_down(
            "IngestDown",
            INGEST,
            "ingest",
            "the HTTP ingest service",
            ": contacts sent to it are refused or lost by their senders.",
        ),
    ],
)


# Input keeps coming (ingest published contacts in the last minute) but the worker routed
# nothing, or indexed nothing, in the same minute. Same 1m window on both sides, so a
# processing delay shorter than `for` cannot fire it on sparse traffic. A dead worker (its
# series gone) counts as processing nothing.
PIPELINE_STALLED = Alert(
    "PipelineStalled",
    f"60 * {sum_rate(INGEST_PUBLISHED, '1m')} > 0\n"
    "unless on ()\n"
    "(\n"
    f"    {sum_rate(PROCESSED, '1m')} > 0\n"
    "  and on ()\n"
    f"    {sum_rate(INDEXED, '1m')} > 0\n"
    ")\n",
    "1m",
    "page",
    "platform",
    summary="Contacts come in but nothing is processed or indexed",
    description="Ingest publishes {{ $value | humanize }} contacts a minute to Kafka, but for "
    "over a minute the worker has routed or indexed none: customers' messages are not reaching "
    "Elasticsearch, nor their SLA clocks.",
)

# Over 1000 messages waiting in a topic, and the 10m trend still upwards, for 15m: the
# workers do not keep up (a short burst or an import that they absorb does not fire).
CONSUMER_LAG_GROWING = Alert(
    "ConsumerLagGrowing",
    f"{TOPIC_LAG} > 1000\nand\nderiv({TOPIC_LAG}[10m]) > 0\n",
    "15m",
    "ticket",
    "platform",
    summary="Consumer lag on {{ $labels.topic }} keeps growing",
    description="{{ $value | humanize }} messages wait in {{ $labels.topic }} and the backlog "
    "has been growing for 15 minutes: contacts are indexed, and SLA clocks judged, ever later.",
)

# More than 20 messages of one stage/reason dead-lettered in 10 minutes, while dead letters
# are over 2% of the contacts processed: bad input or a bug, not a stray message.
DEAD_LETTER_SPIKE = Alert(
    "DeadLetterSpike",
    f"{sum_increase(DEAD_LETTERED, '10m', 'stage, reason')} > 20\n"
    "and on ()\n"
    "(\n"
    f"    {sum_rate(DEAD_LETTERED, '10m')}\n"
    "  /\n"
    f"    {sum_rate(PROCESSED, '10m')}\n"
    "  > 0.02\n"
    ")\n",
    "5m",
    "ticket",
    "platform",
    summary="Contacts dead-lettered at {{ $labels.stage }}: {{ $labels.reason }}",
    description="{{ $value | humanize }} messages went to the dead-letter topic in the last 10 "
    "minutes at stage {{ $labels.stage }} (reason {{ $labels.reason }}), over 2% of the "
    "contacts processed. They are not in Elasticsearch until replayed.",
)

# Either bulk requests are retried and nothing was accepted in 5 minutes (Elasticsearch down,
# unreachable or rejecting everything), or over half the items are refused.
ELASTICSEARCH_INDEXING_FAILING = Alert(
    "ElasticsearchIndexingFailing",
    "(\n"
    f"    {sum_rate(BULK_RETRIES, '5m', 'index')} > 0\n"
    "  unless on (index)\n"
    f"    {sum_rate(INDEXED, '5m', 'index')} > 0\n"
    ")\n"
    "or\n"
    "(\n"
    f"    {sum_rate(BULK_ERRORS, '5m', 'index')}\n"
    "  /\n"
    "    (\n"
    f"        {sum_rate(BULK_ERRORS, '5m', 'index')}\n"
    f"      + {sum_rate(INDEXED, '5m', 'index')}\n"
    "    )\n"
    "  > 0.5\n"
    ")\n",
    "5m",
    "page",
    "platform",
    summary="Elasticsearch indexing into {{ $labels.index }} is failing",
    description="Bulk writes to {{ $labels.index }} keep failing (retried with nothing "
    "accepted, or over half the items refused) for 5 minutes. The worker retries without "
    "committing its offsets, so nothing is lost, but nothing new is searchable either.",
)

PIPELINE = Group(
    "ascolto-pipeline",
    [PIPELINE_STALLED, CONSUMER_LAG_GROWING, DEAD_LETTER_SPIKE, ELASTICSEARCH_INDEXING_FAILING],
)

# Live customer messages still unanswered past the hard_limit their policy sets
# (ascolto/defaults/sla-policies.yaml: email 24h), as the pipeline's SLA clock judged it: business
# hours and pauses included, any channel that has one. Each worker counts its own partitions'
# customers, so the sum is the brand's.
UNANSWERED_PAST_HARD_LIMIT = Alert(
    "UnansweredPastHardLimit",
    f"sum by (brand, channel) ({PAST_HARD_LIMIT}) > 0",
    "5m",
    "page",
    "support",
    summary="{{ $labels.brand }}: {{ $value }} {{ $labels.channel }} messages unanswered past "
    "the hard limit",
    description="{{ $value }} {{ $labels.channel }} messages of {{ $labels.brand }} have waited "
    "past their hard limit on the SLA clock and are still unanswered.",
)


def live_responses_1h(event_types: str) -> str:
    events = sla_events(event_types, RESPONSE_TARGETS, LIVE)
    return sum_increase(events, "1h", "brand, channel")


# Over the last hour, more than 10% of the owed answers of a brand and channel were late (the
# objective is 95% in time), and at least 5 of them. Live traffic only: an imported archive's
# old breaches are history, not this hour's.
SLA_BREACH_RATE_HIGH = Alert(
    "SlaBreachRateHigh",
    "(\n"
    f"    {live_responses_1h('breached')}\n"
    "  /\n"
    f"    {live_responses_1h('met|breached')}\n"
    "  > 0.1\n"
    ")\n"
    "and\n"
    f"{live_responses_1h('breached')} >= 5\n",
    "15m",
    "ticket",
    "support",
    summary="{{ $labels.brand }} / {{ $labels.channel }}: {{ $value | humanizePercentage }} of "
    "answers late",
    description="In the last hour {{ $value | humanizePercentage }} of the answers owed on "
    "{{ $labels.channel }} for {{ $labels.brand }} breached their response target "
    f"(objective: {COMPLIANCE_OBJECTIVE:.0%} in time).",
)

# Volume over 10 minutes at more than 3x the brand's usual level for this time of day (mean
# of the same 10 minutes on the previous days, recording rule), at least 3 per minute, the
# usual level counted as at least 0.6 per minute. No usual level, no alert: a fresh system
# or a new brand stays quiet for its first day. Live mentions only (recording rule): an
# archive imported meanwhile is not a spike.
MENTION_SPIKE = Alert(
    "MentionSpike",
    "(\n"
    f"    {BRAND_INBOUND_RATE10M}\n"
    f"  / clamp_min({BRAND_INBOUND_BASELINE}, 0.01)\n"
    "  > 3\n"
    ")\n"
    "and\n"
    f"{BRAND_INBOUND_RATE10M} > 0.05\n",
    "10m",
    "page",
    "support",
    summary='{{ $labels.brand }} is mentioned {{ $value | printf "%.1f" }}x more than usual',
    description="Inbound volume for {{ $labels.brand }} over the last 10 minutes is "
    '{{ $value | printf "%.1f" }}x its usual level for this time of day, for 10 minutes: an '
    "incident, a campaign or a viral post. Staff the queue.",
)

# Over 40% of a brand's messages negative over 30 minutes, 1.5x its share over the previous
# day, with at least 20 negative messages. Live messages only, as MentionSpike.
NEGATIVE_SENTIMENT_SURGE = Alert(
    "NegativeSentimentSurge",
    "(\n"
    f"    {BRAND_NEGATIVE_RATIO} > 0.4\n"
    "  and\n"
    f"    {BRAND_NEGATIVE_RATIO}\n"
    f"  > 1.5 * avg_over_time({BRAND_NEGATIVE_RATIO}[1d] offset 30m)\n"
    ")\n"
    "and\n"
    f"{sum_increase(sel(INBOUND, NEGATIVE, LIVE), '30m', 'brand')} >= 20\n",
    "15m",
    "ticket",
    "support",
    summary="{{ $labels.brand }}: {{ $value | humanizePercentage }} of messages negative",
    description="{{ $value | humanizePercentage }} of the messages to {{ $labels.brand }} in "
    "the last 30 minutes read as negative, well above its share over the previous day.",
)

CUSTOMERS = Group(
    "ascolto-customers",
    [UNANSWERED_PAST_HARD_LIMIT, SLA_BREACH_RATE_HIGH, MENTION_SPIKE, NEGATIVE_SENTIMENT_SURGE],
)

FILE = RuleFile(
    "ascolto-alerts.yml",
    "Generated by `make grafana` from observability/alerts.py: edit that, not this.\n"
    "Every alert has labels severity and team, annotations summary, description and\n"
    "runbook_url (its section of docs/runbook.md). Tests: deploy/prometheus/tests/.",
    [AVAILABILITY, PIPELINE, CUSTOMERS, SUPPORT_TOOLS],
)
