"""Alerts on Kafka and Elasticsearch themselves, from their exporters (infra_selectors.py);
each has a section in docs/runbook.md and promtool tests in
deploy/prometheus/tests/infrastructure.test.yml.

Alertmanager's inhibitions (observability/inhibitions.py) refer to these names: keep them.
"""

from __future__ import annotations

from observability.alerts import target_down
from observability.infra_selectors import (
    ELASTICSEARCH,
    ES_JVM_MAX,
    ES_JVM_USED,
    ES_REJECTED,
    ES_STATUS,
    ES_UP,
    GROUP_LAG_SUM,
    JVM_MEMORY_MAX,
    JVM_MEMORY_USED,
    KAFKA,
    KAFKA_LAG,
    KAFKA_OFFLINE_PARTITIONS,
    KAFKA_UNDER_REPLICATED,
    es_disk_used_ratio,
    heap_ratio,
)
from observability.rules import Alert, Group, RuleFile, Severity
from observability.selectors import sel, sum_increase

HEAP_HIGH = 0.9
# Elasticsearch's default low disk watermark: past it, no new shard is placed on the node.
DISK_LOW_WATERMARK = 0.85
# Messages one group has not committed, over all its topics.
GROUP_LAG_LIMIT = 10000


def heap_high(name: str, product: str, ratio: str, by: str) -> Alert:
    """``ratio``: one series per JVM, labelled ``by``."""
    who = f"{{{{ $labels.{by} }}}}"
    return Alert(
        name,
        f"{ratio}\n> {HEAP_HIGH}\n",
        "15m",
        "ticket",
        "platform",
        summary=f"{product} {who}: heap {{{{ $value | humanizePercentage }}}} full",
        description=f"The {product} JVM {who} has used over "
        f"{HEAP_HIGH:.0%} of its heap for 15 minutes: long garbage collections stall it, "
        "and it may run out of memory.",
    )


KAFKA_BROKER_DOWN = target_down(
    "KafkaBrokerDown",
    KAFKA,
    "Kafka broker",
    "the JMX exporter agent inside the Kafka broker",
    ": the broker is down or hung. Its partitions' leaders move to other brokers, or, with "
    "one broker, nothing is published or consumed.",
)

KAFKA_UNDER_REPLICATED_PARTITIONS = Alert(
    "KafkaUnderReplicatedPartitions",
    f"sum by (instance) ({sel(KAFKA_UNDER_REPLICATED, KAFKA.matcher)}) > 0",
    "10m",
    "ticket",
    "platform",
    summary="Kafka {{ $labels.instance }}: {{ $value }} under-replicated partitions",
    description="{{ $value }} partitions led by the broker at {{ $labels.instance }} have had "
    "fewer in-sync replicas than replicas for 10 minutes: one more broker lost and writes "
    "with acks=all to them are refused.",
)

KAFKA_OFFLINE_PARTITIONS_ALERT = Alert(
    "KafkaOfflinePartitions",
    f"max({sel(KAFKA_OFFLINE_PARTITIONS, KAFKA.matcher)}) > 0",
    "1m",
    "page",
    "platform",
    summary="Kafka: {{ $value }} partitions offline",
    description="The active controller reports {{ $value }} partitions without a leader for "
    "1 minute: nothing can be written to or read from them.",
)

# ConsumerLagGrowing reads what the live worker says of its own assignment, and fires on a
# trend; this reads the broker's committed offsets for every group, so it still sees the
# backlog while no worker runs, and downstream teams' groups too.
KAFKA_CONSUMER_GROUP_LAG = Alert(
    "KafkaConsumerGroupLag",
    f"sum by (consumergroup) ({sel(GROUP_LAG_SUM, KAFKA_LAG.matcher)}) > {GROUP_LAG_LIMIT}",
    "15m",
    "ticket",
    "platform",
    summary="Consumer group {{ $labels.consumergroup }} is {{ $value }} messages behind",
    description="The group {{ $labels.consumergroup }} has not committed {{ $value }} "
    f"messages (over {GROUP_LAG_LIMIT}) for 15 minutes, by the broker's committed offsets.",
)

KAFKA_JVM_HEAP_HIGH = heap_high(
    "KafkaJvmHeapHigh",
    "Kafka",
    heap_ratio("instance", JVM_MEMORY_USED, JVM_MEMORY_MAX, KAFKA.matcher),
    "instance",
)

KAFKA_GROUP = Group(
    "kafka",
    [
        KAFKA_BROKER_DOWN,
        KAFKA_UNDER_REPLICATED_PARTITIONS,
        KAFKA_OFFLINE_PARTITIONS_ALERT,
        KAFKA_CONSUMER_GROUP_LAG,
        KAFKA_JVM_HEAP_HIGH,
    ],
)

ES_HEALTH = sel(ES_UP, ELASTICSEARCH.matcher)

# absent(): the exporter itself answers no more, so nothing is known of the cluster.
ELASTICSEARCH_DOWN = Alert(
    "ElasticsearchDown",
    f"{ES_HEALTH} == 0\nor\nabsent({ES_HEALTH})\n",
    "1m",
    "page",
    "platform",
    summary="Elasticsearch does not answer",
    description="For 1 minute the exporter has had no answer from Elasticsearch's cluster "
    "health (or Prometheus none from the exporter): nothing is indexed, searches fail.",
)


def cluster_status(name: str, colour: str, for_: str, severity: Severity, meaning: str) -> Alert:
    status = sel(ES_STATUS, ELASTICSEARCH.matcher, f'color="{colour}"')
    return Alert(
        name,
        f"{status} == 1",
        for_,
        severity,
        "platform",
        summary=f"Elasticsearch cluster {{{{ $labels.cluster }}}} is {colour}",
        description=f"The cluster {{{{ $labels.cluster }}}} has been {colour} for {for_}: "
        f"{meaning}",
    )


ELASTICSEARCH_CLUSTER_RED = cluster_status(
    "ElasticsearchClusterRed",
    "red",
    "2m",
    "page",
    "a primary shard is unassigned; its index refuses writes and answers searches in part.",
)

ELASTICSEARCH_CLUSTER_YELLOW = cluster_status(
    "ElasticsearchClusterYellow",
    "yellow",
    "30m",
    "ticket",
    "replica shards are unassigned; one more node lost and data is unavailable.",
)

ELASTICSEARCH_DISK_WATERMARK = Alert(
    "ElasticsearchDiskWatermark",
    f"{es_disk_used_ratio()} > {DISK_LOW_WATERMARK}",
    "5m",
    "ticket",
    "platform",
    summary="Elasticsearch node {{ $labels.name }}: "
    "data disk {{ $value | humanizePercentage }} full",
    description="The data path of {{ $labels.name }} has been over the low disk watermark "
    f"({DISK_LOW_WATERMARK:.0%}) for 5 minutes: no new shard goes there; at 90% shards move "
    "away, at 95% its indices turn read-only and every write is refused.",
)

WRITE_REJECTED = sel(ES_REJECTED, ELASTICSEARCH.matcher, 'type="write"')

ELASTICSEARCH_WRITE_REJECTIONS = Alert(
    "ElasticsearchWriteRejections",
    f"{sum_increase(WRITE_REJECTED, '5m', 'name')} > 0",
    "5m",
    "ticket",
    "platform",
    summary="Elasticsearch node {{ $labels.name }} refuses writes",
    description="{{ $value | humanize }} writes refused by {{ $labels.name }} in the last 5 "
    "minutes, for 5 minutes: its write queue is full. The index stage retries them (429), "
    "so indexing falls behind.",
)

ELASTICSEARCH_JVM_HEAP_HIGH = heap_high(
    "ElasticsearchJvmHeapHigh",
    "Elasticsearch",
    heap_ratio("name", ES_JVM_USED, ES_JVM_MAX, ELASTICSEARCH.matcher),
    "name",
)

ELASTICSEARCH_GROUP = Group(
    "elasticsearch",
    [
        ELASTICSEARCH_DOWN,
        ELASTICSEARCH_CLUSTER_RED,
        ELASTICSEARCH_CLUSTER_YELLOW,
        ELASTICSEARCH_DISK_WATERMARK,
        ELASTICSEARCH_WRITE_REJECTIONS,
        ELASTICSEARCH_JVM_HEAP_HIGH,
    ],
)

FILE = RuleFile(
    "ascolto-infrastructure.yml",
    "Generated by `make grafana` from observability/infra_alerts.py: edit that, not this.\n"
    "Kafka and Elasticsearch themselves, from their exporters. Each alert has labels severity\n"
    "and team, annotations summary, description and runbook_url (docs/runbook.md).\n"
    "Tests: deploy/prometheus/tests/infrastructure.test.yml.",
    [KAFKA_GROUP, ELASTICSEARCH_GROUP],
)
