""" "Ascolto — pipeline health": is every contact flowing from ingest to Elasticsearch?

Variables: `instance` (worker processes: one Prometheus target each) and `channel`. There is
no brand variable here: no pipeline metric carries a brand (the "Support team" row shows each
brand's nudge webhook, all of them).
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from observability import selectors as m
from observability.dashboards import infrastructure, support_tools
from observability.dashboards.panels import (
    CHANNEL,
    GREEN,
    INSTANCE,
    ORANGE,
    RANGE,
    RATE,
    RED,
    PanelBuilder,
    build_dashboard,
    datasource_variable,
    quantile,
    query_variable,
    stat_panel,
    target,
    timeseries_panel,
    up_timeline_panel,
)
from observability.selectors import sel, share, sum_increase, sum_rate

UID = "ascolto-pipeline-health"
TITLE = "Ascolto — pipeline health"

UP = sel(m.UP, m.ANY_JOB)
PUBLISHED = sel(m.INGEST_PUBLISHED, CHANNEL)
LAG_BY_TOPIC = m.lag_by_topic(INSTANCE)
DEAD = sel(m.DEAD_LETTERED, INSTANCE)
LATENCY_BUCKETS = sel(m.END_TO_END_LATENCY.bucket, INSTANCE)
LATENCY_STEPS = [(None, GREEN), (5, ORANGE), (60, RED)]
REQUEST_BUCKETS = m.INGEST_REQUEST_SECONDS.bucket


def worker_rate(metric: str, by: str = "", *matchers: str) -> str:
    """Per second, summed by `by`, over the worker processes the `instance` variable picks."""
    return sum_rate(sel(metric, INSTANCE, *matchers), RATE, by)


def series_per_label(
    title: str,
    description: str,
    metric: str,
    by: str,
    unit: str,
    *matchers: str,
    stack: bool = False,
) -> PanelBuilder:
    """A third of a row: `worker_rate` of one metric, a series per value of the `by` labels."""
    legend = " ".join("{{" + label.strip() + "}}" for label in by.split(","))
    query = target(worker_rate(metric, by, *matchers), legend)
    return timeseries_panel(title, description, [query], unit, span=8, stack=stack)


def overview() -> list[PanelBuilder]:
    return [
        stat_panel(
            "Targets up",
            "Share of the scraped processes that answer, per job (one worker process = one "
            "target). Red below 100%: see WorkerDown / IngestDown.",
            [
                target(
                    f"sum by (job) ({UP}) / count by (job) ({UP})",
                    "{{job}}",
                    instant=True,
                )
            ],
            "percentunit",
            span=6,
            steps=[(None, RED), (1, GREEN)],
        ),
        stat_panel(
            "End-to-end latency p99",
            "received_at (ingest) to indexed in Elasticsearch, over the time range.",
            [target(quantile(0.99, LATENCY_BUCKETS, window=RANGE), instant=True)],
            "s",
            span=6,
            steps=LATENCY_STEPS,
        ),
        stat_panel(
            "Consumer lag",
            "Messages waiting in the source topics, all topics.",
            [target(f"sum({LAG_BY_TOPIC})", instant=True)],
            "short",
            span=6,
            steps=[(None, GREEN), (1000, ORANGE), (10000, RED)],
            decimals=0,
        ),
        stat_panel(
            "Dead-lettered",
            "Messages sent to the dead-letter topic over the time range.",
            [target(sum_increase(DEAD, RANGE), instant=True)],
            "short",
            span=6,
            steps=[(None, GREEN), (1, ORANGE), (100, RED)],
            decimals=0,
        ),
        up_timeline_panel(
            "Targets up over time",
            "up per scraped process: red while Prometheus cannot scrape it.",
            [target(UP, "{{job}} {{instance}}")],
        ),
    ]


def throughput() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Throughput per stage",
            "Messages per second: published by ingest, taken by each worker stage "
            "(sum of batch sizes), and documents Elasticsearch accepted.",
            [
                target(sum_rate(PUBLISHED, RATE), "ingest → contacts.raw"),
                target(worker_rate(m.BATCH_SIZE.sum, "stage"), "{{stage}}"),
                target(worker_rate(m.INDEXED, "index"), "indexed {{index}}"),
            ],
            "mps",
            span=24,
        ),
        series_per_label(
            "Contacts processed by channel and direction",
            "Decoded, validated and enriched by the route stage.",
            m.PROCESSED,
            "channel, direction",
            "mps",
            CHANNEL,
            stack=True,
        ),
        series_per_label(
            "Records published by topic",
            "Records the worker wrote to its output topics.",
            m.RECORDS_PUBLISHED,
            "topic",
            "mps",
        ),
        series_per_label(
            "Duplicates recognised",
            "exact: redeliveries dropped; near: kept and linked to the original.",
            m.DEDUPLICATED,
            "kind",
            "mps",
        ),
    ]


def latency() -> list[PanelBuilder]:
    stage_buckets = sel(m.STAGE_DURATION.bucket, INSTANCE)
    batch = sel(m.BATCH_SIZE.bucket, INSTANCE)
    return [
        timeseries_panel(
            "End-to-end latency p50 / p99",
            "From ingest's received_at to the contact indexed in Elasticsearch.",
            [
                target(quantile(0.5, LATENCY_BUCKETS), "p50"),
                target(quantile(0.99, LATENCY_BUCKETS), "p99"),
            ],
            "s",
            span=6,
            steps=LATENCY_STEPS,
        ),
        timeseries_panel(
            "Wait from ingest p99, by stage",
            "From ingest's received_at to the batch of each stage that takes the contact, and "
            "to indexed: the hop where the end-to-end latency builds up.",
            [
                target(
                    quantile(0.99, sel(m.STAGE_WAIT.bucket, INSTANCE), "stage"),
                    "{{stage}}",
                ),
                target(quantile(0.99, LATENCY_BUCKETS), "indexed"),
            ],
            "s",
            span=6,
            steps=LATENCY_STEPS,
        ),
        timeseries_panel(
            "Stage duration p99",
            "Processing time of one batch in a stage, I/O included.",
            [target(quantile(0.99, stage_buckets, "stage"), "{{stage}}")],
            "s",
            span=6,
        ),
        timeseries_panel(
            "Batch size",
            "Messages per batch taken from a topic: mean and p99 per stage.",
            [
                target(
                    share(
                        worker_rate(m.BATCH_SIZE.sum, "stage"),
                        worker_rate(m.BATCH_SIZE.count, "stage"),
                    ),
                    "{{stage}} mean",
                ),
                target(quantile(0.99, batch, "stage"), "{{stage}} p99"),
            ],
            "short",
            span=6,
        ),
        timeseries_panel(
            "Garbage-collector pauses",
            "Share of each worker's time stopped by Python's garbage collector, by generation: "
            "every stage waits while it runs (ASCOLTO_GC_YOUNG_THRESHOLD).",
            [
                target(
                    worker_rate(m.GC_PAUSES.sum, "instance, generation"),
                    "{{instance}} gen {{generation}}",
                )
            ],
            "percentunit",
            span=6,
        ),
    ]


def backlog() -> list[PanelBuilder]:
    watermark = sel(m.WATERMARK, INSTANCE)
    return [
        timeseries_panel(
            "Consumer lag by topic",
            "Messages in the source partitions not processed yet (alert: ConsumerLagGrowing).",
            [target(LAG_BY_TOPIC, "{{topic}}")],
            "short",
            span=8,
            steps=[(None, GREEN), (1000, ORANGE)],
        ),
        timeseries_panel(
            "Event-time watermark behind wall clock",
            "How far the worker's event time trails now: large while replaying an archive.",
            [target(f"time() - max by (instance) ({watermark})", "{{instance}}")],
            "s",
            span=8,
        ),
        timeseries_panel(
            "Customer timelines held, conversations evicted",
            "Timelines in each worker's table partitions; evictions after the retention period.",
            [
                target(sel(m.TIMELINES, INSTANCE), "timelines {{instance}}"),
                target(f"60 * {worker_rate(m.EVICTED)}", "evicted per minute"),
            ],
            "short",
            span=8,
        ),
    ]


def errors() -> list[PanelBuilder]:
    return [
        series_per_label(
            "Dead letters by stage and reason",
            "Messages sent to the dead-letter topic (alert: DeadLetterSpike).",
            m.DEAD_LETTERED,
            "stage, reason",
            "mps",
            stack=True,
        ),
        timeseries_panel(
            "Elasticsearch bulk errors and retries",
            "Items refused (retryable 429/5xx, permanent) and bulk requests retried "
            "(alert: ElasticsearchIndexingFailing).",
            [
                target(worker_rate(m.BULK_ERRORS, "index, kind"), "{{index}} {{kind}} errors"),
                target(worker_rate(m.BULK_RETRIES, "index"), "{{index}} retries"),
            ],
            "ops",
            span=8,
        ),
        series_per_label(
            "Batch retries by stage",
            "Batches retried after an unexpected failure (left unacknowledged meanwhile).",
            m.BATCH_RETRIES,
            "stage",
            "ops",
        ),
    ]


def ingest() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Ingest requests by outcome",
            "HTTP requests: accepted, invalid (refused), error (Kafka did not acknowledge).",
            [target(sum_rate(m.INGEST_REQUEST_SECONDS.count, RATE, "outcome"), "{{outcome}}")],
            "reqps",
            span=8,
            stack=True,
        ),
        timeseries_panel(
            "Contacts received, published and refused",
            "Contacts per second at the door.",
            [
                target(sum_rate(m.INGEST_RECEIVED, RATE), "received"),
                target(sum_rate(PUBLISHED, RATE, "channel"), "published {{channel}}"),
                target(sum_rate(m.INGEST_REJECTED, RATE, "reason"), "refused {{reason}}"),
                target(sum_rate(m.INGEST_PUBLISH_ERRORS, RATE), "publish errors"),
            ],
            "mps",
            span=8,
        ),
        timeseries_panel(
            "Ingest request latency p50 / p99",
            "Validate and publish one request, until Kafka acknowledged it.",
            [
                target(quantile(0.5, REQUEST_BUCKETS, "outcome"), "{{outcome}} p50"),
                target(quantile(0.99, REQUEST_BUCKETS, "outcome"), "{{outcome}} p99"),
            ],
            "s",
            span=8,
        ),
        timeseries_panel(
            "Ingest batch size",
            "Contacts per request: mean and p99.",
            [
                target(
                    share(
                        sum_rate(m.INGEST_BATCH_SIZE.sum, RATE),
                        sum_rate(m.INGEST_BATCH_SIZE.count, RATE),
                    ),
                    "mean",
                ),
                target(quantile(0.99, m.INGEST_BATCH_SIZE.bucket), "p99"),
            ],
            "short",
            span=24,
            height=6,
        ),
    ]


def dashboard() -> dm.Dashboard:
    return build_dashboard(
        uid=UID,
        title=TITLE,
        description="Is every contact flowing from ingest through Kafka to Elasticsearch?",
        time_from="now-1h",
        variables=[
            datasource_variable(),
            query_variable(
                "instance", "Worker", f"label_values({sel(m.UP, m.WORKER.matcher)}, instance)"
            ),
            query_variable("channel", "Channel", f"label_values({m.INBOUND}, channel)"),
        ],
        rows=[
            ("Overview", overview()),
            ("Throughput", throughput()),
            ("Latency", latency()),
            ("Backlog", backlog()),
            ("Errors", errors()),
            ("Ingest", ingest()),
            ("Kafka and Elasticsearch", infrastructure.panels()),
            ("Support team", support_tools.panels()),
        ],
    )
