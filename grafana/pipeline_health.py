""" "Ascolto — pipeline health": is every contact flowing from ingest to Elasticsearch?

Variables: `instance` (worker processes: one Prometheus target each) and `channel`. There is
no brand variable here: no pipeline metric carries a brand.
"""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as dm

from grafana.panels import (
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
    query_variable,
    sel,
    stat_panel,
    target,
    timeseries_panel,
    up_timeline_panel,
)

UID = "ascolto-pipeline-health"
TITLE = "Ascolto — pipeline health"

JOBS = 'job=~"ascolto-ingest|ascolto-worker"'
PUBLISHED = sel("ascolto_ingest_contacts_published_total", CHANNEL)
LAG = sel("ascolto_consumer_lag_messages", INSTANCE)
# Per topic: a partition counted once even if a worker still reports it after a rebalance.
LAG_BY_TOPIC = f"sum by (topic) (max by (topic, partition) ({LAG}))"
DEAD = sel("ascolto_contacts_dead_lettered_total", INSTANCE)
LATENCY_BUCKETS = sel("ascolto_end_to_end_latency_seconds_bucket", INSTANCE)
LATENCY_STEPS = [(None, GREEN), (5, ORANGE), (60, RED)]


def quantile(q: float, buckets: str, by: str = "", window: str = RATE) -> str:
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({buckets}{window})))"


def overview() -> list[PanelBuilder]:
    return [
        stat_panel(
            "Targets up",
            "Share of the scraped processes that answer, per job (one worker process = one "
            "target). Red below 100%: see WorkerDown / IngestDown.",
            [
                target(
                    f"sum by (job) (up{{{JOBS}}}) / count by (job) (up{{{JOBS}}})",
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
            [target(f"sum(increase({DEAD}{RANGE}))", instant=True)],
            "short",
            span=6,
            steps=[(None, GREEN), (1, ORANGE), (100, RED)],
            decimals=0,
        ),
        up_timeline_panel(
            "Targets up over time",
            "up per scraped process: red while Prometheus cannot scrape it.",
            [target(f"up{{{JOBS}}}", "{{job}} {{instance}}")],
        ),
    ]


def throughput() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Throughput per stage",
            "Messages per second: published by ingest, taken by each worker stage "
            "(sum of batch sizes), and documents Elasticsearch accepted.",
            [
                target(f"sum(rate({PUBLISHED}{RATE}))", "ingest → contacts.raw"),
                target(
                    f"sum by (stage) (rate({sel('ascolto_batch_size_sum', INSTANCE)}{RATE}))",
                    "{{stage}}",
                ),
                target(
                    "sum by (index) "
                    f"(rate({sel('ascolto_documents_indexed_total', INSTANCE)}{RATE}))",
                    "indexed {{index}}",
                ),
            ],
            "mps",
            span=24,
        ),
        timeseries_panel(
            "Contacts processed by channel and direction",
            "Decoded, validated and enriched by the route stage.",
            [
                target(
                    "sum by (channel, direction) (rate("
                    f"{sel('ascolto_contacts_processed_total', INSTANCE, CHANNEL)}{RATE}))",
                    "{{channel}} {{direction}}",
                )
            ],
            "mps",
            span=8,
            stack=True,
        ),
        timeseries_panel(
            "Records published by topic",
            "Records the worker wrote to its output topics.",
            [
                target(
                    "sum by (topic) "
                    f"(rate({sel('ascolto_records_published_total', INSTANCE)}{RATE}))",
                    "{{topic}}",
                )
            ],
            "mps",
            span=8,
        ),
        timeseries_panel(
            "Duplicates recognised",
            "exact: redeliveries dropped; near: kept and linked to the original.",
            [
                target(
                    "sum by (kind) "
                    f"(rate({sel('ascolto_contacts_deduplicated_total', INSTANCE)}{RATE}))",
                    "{{kind}}",
                )
            ],
            "mps",
            span=8,
        ),
    ]


def latency() -> list[PanelBuilder]:
    stage_buckets = sel("ascolto_stage_duration_seconds_bucket", INSTANCE)
    batch = sel("ascolto_batch_size_bucket", INSTANCE)
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
                    quantile(0.99, sel("ascolto_stage_wait_seconds_bucket", INSTANCE), "stage"),
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
                    f"sum by (stage) (rate({sel('ascolto_batch_size_sum', INSTANCE)}{RATE}))\n/\n"
                    f"(sum by (stage) (rate({sel('ascolto_batch_size_count', INSTANCE)}{RATE}))"
                    " > 0)",
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
                    "sum by (instance, generation) "
                    f"(rate({sel('ascolto_gc_pause_seconds_sum', INSTANCE)}{RATE}))",
                    "{{instance}} gen {{generation}}",
                )
            ],
            "percentunit",
            span=6,
        ),
    ]


def backlog() -> list[PanelBuilder]:
    watermark = sel("ascolto_event_time_watermark_seconds", INSTANCE)
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
                target(sel("ascolto_customer_timelines", INSTANCE), "timelines {{instance}}"),
                target(
                    f"60 * sum(rate({sel('ascolto_conversations_evicted_total', INSTANCE)}{RATE}))",
                    "evicted per minute",
                ),
            ],
            "short",
            span=8,
        ),
    ]


def errors() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Dead letters by stage and reason",
            "Messages sent to the dead-letter topic (alert: DeadLetterSpike).",
            [target(f"sum by (stage, reason) (rate({DEAD}{RATE}))", "{{stage}} {{reason}}")],
            "mps",
            span=8,
            stack=True,
        ),
        timeseries_panel(
            "Elasticsearch bulk errors and retries",
            "Items refused (retryable 429/5xx, permanent) and bulk requests retried "
            "(alert: ElasticsearchIndexingFailing).",
            [
                target(
                    "sum by (index, kind) (rate("
                    f"{sel('ascolto_elasticsearch_bulk_errors_total', INSTANCE)}{RATE}))",
                    "{{index}} {{kind}} errors",
                ),
                target(
                    "sum by (index) (rate("
                    f"{sel('ascolto_elasticsearch_bulk_retries_total', INSTANCE)}{RATE}))",
                    "{{index}} retries",
                ),
            ],
            "ops",
            span=8,
        ),
        timeseries_panel(
            "Batch retries by stage",
            "Batches retried after an unexpected failure (left unacknowledged meanwhile).",
            [
                target(
                    f"sum by (stage) (rate({sel('ascolto_batch_retries_total', INSTANCE)}{RATE}))",
                    "{{stage}}",
                )
            ],
            "ops",
            span=8,
        ),
    ]


def ingest() -> list[PanelBuilder]:
    requests = "ascolto_ingest_request_duration_seconds"
    return [
        timeseries_panel(
            "Ingest requests by outcome",
            "HTTP requests: accepted, invalid (refused), error (Kafka did not acknowledge).",
            [
                target(
                    f"sum by (outcome) (rate({requests}_count{RATE}))",
                    "{{outcome}}",
                )
            ],
            "reqps",
            span=8,
            stack=True,
        ),
        timeseries_panel(
            "Contacts received, published and refused",
            "Contacts per second at the door.",
            [
                target(f"sum(rate(ascolto_ingest_contacts_received_total{RATE}))", "received"),
                target(
                    f"sum by (channel) (rate({PUBLISHED}{RATE}))",
                    "published {{channel}}",
                ),
                target(
                    f"sum by (reason) (rate(ascolto_ingest_contacts_rejected_total{RATE}))",
                    "refused {{reason}}",
                ),
                target(f"sum(rate(ascolto_ingest_publish_errors_total{RATE}))", "publish errors"),
            ],
            "mps",
            span=8,
        ),
        timeseries_panel(
            "Ingest request latency p50 / p99",
            "Validate and publish one request, until Kafka acknowledged it.",
            [
                target(quantile(0.5, f"{requests}_bucket", "outcome"), "{{outcome}} p50"),
                target(quantile(0.99, f"{requests}_bucket", "outcome"), "{{outcome}} p99"),
            ],
            "s",
            span=8,
        ),
        timeseries_panel(
            "Ingest batch size",
            "Contacts per request: mean and p99.",
            [
                target(
                    f"sum(rate(ascolto_ingest_batch_size_sum{RATE}))\n/\n"
                    f"(sum(rate(ascolto_ingest_batch_size_count{RATE})) > 0)",
                    "mean",
                ),
                target(quantile(0.99, "ascolto_ingest_batch_size_bucket"), "p99"),
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
                "instance", "Worker", 'label_values(up{job="ascolto-worker"}, instance)'
            ),
            query_variable(
                "channel", "Channel", "label_values(ascolto_inbound_contacts_total, channel)"
            ),
        ],
        rows=[
            ("Overview", overview()),
            ("Throughput", throughput()),
            ("Latency", latency()),
            ("Backlog", backlog()),
            ("Errors", errors()),
            ("Ingest", ingest()),
        ],
    )
