"""What the infrastructure alerts and the dashboard's "Kafka and Elasticsearch" row read: the
scrape jobs of deploy/prometheus/prometheus.yml for the exporters, and the exporters' metric
names (not Ascolto's own: these come from the exporters, so the metric-name check of
tests/unit/test_observability.py, which knows only ascolto_* series, does not apply).

- kafka: the Prometheus JMX exporter agent in each broker, rules in deploy/kafka/jmx-exporter.yml
- elasticsearch: prometheus-elasticsearch-exporter (1.5), against the stack's node
- kafka-lag: services/lag_exporter.py, with danielqsj/kafka_exporter's names
"""

from __future__ import annotations

import re

from observability.selectors import Job

KAFKA = Job("kafka")
ELASTICSEARCH = Job("elasticsearch")
KAFKA_LAG = Job("kafka-lag")
JOBS = (KAFKA, ELASTICSEARCH, KAFKA_LAG)

# deploy/kafka/jmx-exporter.yml
KAFKA_UNDER_REPLICATED = "kafka_server_replicamanager_underreplicatedpartitions"
KAFKA_PARTITIONS = "kafka_server_replicamanager_partitioncount"
KAFKA_OFFLINE_PARTITIONS = "kafka_controller_kafkacontroller_offlinepartitionscount"
KAFKA_ACTIVE_CONTROLLERS = "kafka_controller_kafkacontroller_activecontrollercount"
KAFKA_MESSAGES_IN = "kafka_server_brokertopicmetrics_messagesin_total"
# the agent's JVM collectors (client_java), labelled area="heap" / "nonheap"
JVM_MEMORY_USED = "jvm_memory_used_bytes"
JVM_MEMORY_MAX = "jvm_memory_max_bytes"

# services/lag_exporter.py
GROUP_LAG = "kafka_consumergroup_lag"
GROUP_LAG_SUM = "kafka_consumergroup_lag_sum"

# prometheus-elasticsearch-exporter
ES_UP = "elasticsearch_cluster_health_up"  # 0: the exporter's last call to the cluster failed
ES_STATUS = "elasticsearch_cluster_health_status"  # 1 for the cluster's colour, 0 for the others
ES_UNASSIGNED_SHARDS = "elasticsearch_cluster_health_unassigned_shards"
ES_FS_AVAILABLE = "elasticsearch_filesystem_data_available_bytes"
ES_FS_SIZE = "elasticsearch_filesystem_data_size_bytes"
ES_REJECTED = "elasticsearch_thread_pool_rejected_count"  # a counter, despite its name
ES_JVM_USED = "elasticsearch_jvm_memory_used_bytes"
ES_JVM_MAX = "elasticsearch_jvm_memory_max_bytes"
HEAP = 'area="heap"'


def heap_ratio(by: str, used: str, maximum: str, *matchers: str) -> str:
    """Used over maximum heap, one series per JVM (told apart by the label ``by``)."""
    m = ", ".join((HEAP, *matchers))
    return f"max by ({by}) ({used}{{{m}}})\n/\nmax by ({by}) ({maximum}{{{m}}})"


def reads_exporters(expr: str) -> bool:
    """Whether a query reads the exporters' series or targets rather than Ascolto's own."""
    return bool(re.search(r'\b(kafka|elasticsearch|jvm)_|job=~?"(kafka|elasticsearch)', expr))


def es_disk_used_ratio() -> str:
    """The fullest data path of each node, as a ratio."""
    return f"max by (instance, name) (1 - {ES_FS_AVAILABLE} / {ES_FS_SIZE})"
