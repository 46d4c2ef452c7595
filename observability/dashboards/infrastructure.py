"""The pipeline-health dashboard's "Kafka and Elasticsearch" row: the servers themselves, as
their exporters see them (observability/infra_selectors.py), the same signals the alerts of
observability/infra_alerts.py read."""

from __future__ import annotations

from observability import infra_selectors as x
from observability.dashboards.panels import (
    GREEN,
    ORANGE,
    RATE,
    RED,
    PanelBuilder,
    stat_panel,
    target,
    timeseries_panel,
    up_timeline_panel,
)
from observability.infra_alerts import DISK_LOW_WATERMARK, GROUP_LAG_LIMIT, HEAP_HIGH
from observability.selectors import sel, sum_rate

EXPORTERS_UP = sel("up", f'job=~"{"|".join(job.name for job in x.JOBS)}"')
HEAP_STEPS = [(None, GREEN), (HEAP_HIGH, RED)]
KAFKA = x.KAFKA.matcher
ES = x.ELASTICSEARCH.matcher
ES_RED = sel(x.ES_STATUS, ES, 'color="red"')
ES_YELLOW = sel(x.ES_STATUS, ES, 'color="yellow"')


def panels() -> list[PanelBuilder]:
    return [
        up_timeline_panel(
            "Exporters up",
            "Each Kafka broker's JMX exporter agent (job kafka: down = the broker is down), the "
            "Elasticsearch exporter and the consumer-group lag exporter.",
            [target(EXPORTERS_UP, "{{job}} {{instance}}")],
            height=5,
        ),
        stat_panel(
            "Under-replicated partitions",
            "Partitions with fewer in-sync replicas than replicas, over all brokers.",
            [target(f"sum({sel(x.KAFKA_UNDER_REPLICATED, KAFKA)})", instant=True)],
            "none",
            steps=[(None, GREEN), (1, ORANGE)],
        ),
        stat_panel(
            "Offline partitions",
            "Partitions without a leader, as the active controller counts them.",
            [target(f"max({sel(x.KAFKA_OFFLINE_PARTITIONS, KAFKA)})", instant=True)],
            "none",
            steps=[(None, GREEN), (1, RED)],
        ),
        stat_panel(
            "Active controllers",
            "Exactly one in a healthy cluster.",
            [target(f"sum({sel(x.KAFKA_ACTIVE_CONTROLLERS, KAFKA)})", instant=True)],
            "none",
            steps=[(None, RED), (1, GREEN), (2, RED)],
        ),
        stat_panel(
            "Elasticsearch cluster status",
            "0 green, 1 yellow (replicas unassigned), 2 red (primaries unassigned).",
            [target(f"max({ES_RED}) * 2 + max({ES_YELLOW})", instant=True)],
            "none",
            steps=[(None, GREEN), (1, ORANGE), (2, RED)],
        ),
        timeseries_panel(
            "Consumer-group lag",
            "Messages each group has not committed, over all its topics, from the broker's "
            f"committed offsets (KafkaConsumerGroupLag past {GROUP_LAG_LIMIT}).",
            [
                target(
                    f"sum by (consumergroup) ({sel(x.GROUP_LAG_SUM, x.KAFKA_LAG.matcher)})",
                    "{{consumergroup}}",
                )
            ],
            "short",
            span=12,
            steps=[(None, GREEN), (GROUP_LAG_LIMIT, RED)],
        ),
        timeseries_panel(
            "Elasticsearch write rejections",
            "Writes refused because the node's write queue is full (429), per second.",
            [target(sum_rate(sel(x.ES_REJECTED, ES, 'type="write"'), RATE, "name"), "{{name}}")],
            "ops",
            span=12,
        ),
        timeseries_panel(
            "Kafka heap used",
            "Each broker's JVM heap, used over maximum.",
            [
                target(
                    x.heap_ratio("instance", x.JVM_MEMORY_USED, x.JVM_MEMORY_MAX, KAFKA),
                    "{{instance}}",
                )
            ],
            "percentunit",
            span=8,
            steps=HEAP_STEPS,
            max_val=1,
        ),
        timeseries_panel(
            "Elasticsearch heap used",
            "Each node's JVM heap, used over maximum.",
            [target(x.heap_ratio("name", x.ES_JVM_USED, x.ES_JVM_MAX, ES), "{{name}}")],
            "percentunit",
            span=8,
            steps=HEAP_STEPS,
            max_val=1,
        ),
        timeseries_panel(
            "Elasticsearch data disk used",
            "Each node's fullest data path; watermarks: 85% low, 90% high, 95% flood stage "
            "(indices read-only).",
            [target(x.es_disk_used_ratio(), "{{name}}")],
            "percentunit",
            span=8,
            steps=[(None, GREEN), (DISK_LOW_WATERMARK, ORANGE), (0.95, RED)],
            max_val=1,
        ),
    ]
