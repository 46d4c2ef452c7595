"""Typed settings, built once from the environment in each entry point and passed down.

Each setting is declared once, below or in ``ascolto.secured_settings`` (secured connections,
ingest's API keys, retention): its variable, default, range and meaning. The loader
(``Settings.from_env``), its one-line errors and docs/configuration.md (``make config-doc``)
all come from these declarations; each class's docstring titles its section of the page.
Defaults run the local stack on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ascolto.declared import ADDRESSES, DECLARED, PORT, STACK
from ascolto.defaults import DEFAULTS_DIR
from ascolto.event_loop import EVENT_LOOPS, EventLoop
from ascolto.lifecycle import LifecycleSettings
from ascolto.secured_settings import (
    ElasticSecurity,
    IngestAuthSettings,
    KafkaSecurity,
    RetentionSettings,
)
from ascolto.settings_table import ConfigError
from ascolto.support_settings import SlaSettings, SupportSettings

__all__ = [
    "ADDRESSES",
    "CONFIG_DIR",
    "DECLARED",
    "ROOT",
    "ConfigError",
    "ElasticSecurity",
    "IngestAuthSettings",
    "KafkaSecurity",
    "RetentionSettings",
    "Settings",
]

ROOT = Path(__file__).resolve().parent.parent  # the checkout, for tools that run only there
CONFIG_DIR = DEFAULTS_DIR  # the shipped policy, intents, e-mail agents and example directory

_env = DECLARED.field


@dataclass(frozen=True)
class KafkaSettings:
    """Kafka"""

    bootstrap: str = _env(
        "ASCOLTO_KAFKA_BOOTSTRAP", "$ASCOLTO_HOST:$ASCOLTO_KAFKA_PORT", "Kafka's bootstrap servers."
    )
    topic_prefix: str = _env(
        "ASCOLTO_TOPIC_PREFIX", "", "Prefix of every topic's name (tests and bench runs)."
    )
    # 12: even spreads over 1, 2, 3, 4, 6 and 12 workers, at little cost on a 2-core machine
    # (docs/deploying.md#sizing).
    partitions: int = _env(
        "ASCOLTO_PARTITIONS",
        12,
        "Partitions of each topic the services create: the most workers a group can use.",
        minimum=1,
    )
    replication_factor: int = _env(
        "ASCOLTO_REPLICATION_FACTOR",
        1,
        "Replicas of each topic's partitions (at most the brokers; 3 on a cluster).",
        minimum=1,
    )
    min_insync_replicas: int = _env(
        "ASCOLTO_MIN_INSYNC_REPLICAS",
        1,
        "Replicas that must hold a record before it is acknowledged: each topic's "
        "`min.insync.replicas` (at most the replication factor; 2 of 3 on a cluster).",
        minimum=1,
    )
    security: KafkaSecurity = field(default_factory=KafkaSecurity)
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def raw(self) -> str:
        return self.topic("contacts.raw")

    @property
    def keyed(self) -> str:
        """Internal: enriched contacts re-keyed by brand and resolved customer."""
        return self.topic("contacts.keyed")

    @property
    def enriched(self) -> str:
        return self.topic("contacts.enriched")

    @property
    def dlq(self) -> str:
        return self.topic("contacts.dlq")

    @property
    def dlq_replayed(self) -> str:
        """Compacted: the dead letters `ascolto dlq replay` republished (services/dlq.py)."""
        return self.topic("contacts.dlq.replayed")

    @property
    def conversations(self) -> str:
        return self.topic("conversations")

    @property
    def customers(self) -> str:
        return self.topic("customers")

    @property
    def sla_events(self) -> str:
        return self.topic("sla.events")

    @property
    def audit(self) -> str:
        """What each erasure removed and when, without personal data (docs/privacy.md)."""
        return self.topic("audit")

    @property
    def schemas(self) -> str:
        """Compacted: every writer schema by fingerprint (schemas.registry, docs/schemas.md)."""
        return self.topic("schemas")


@dataclass(frozen=True)
class ElasticSettings:
    """Elasticsearch"""

    url: str = _env(
        "ASCOLTO_ES_URL", "http://$ASCOLTO_HOST:$ASCOLTO_ES_PORT", "Elasticsearch's URL."
    )
    index_prefix: str = _env(
        "ASCOLTO_INDEX_PREFIX", "ascolto", "Prefix of every index and alias (`<prefix>-contacts`)."
    )
    bulk_max_actions: int = _env(
        "ASCOLTO_ES_BULK_MAX_ACTIONS", 2000, "Documents per bulk request at most.", minimum=1
    )
    shards: int = _env(
        "ASCOLTO_ES_SHARDS",
        1,
        "Primary shards of each index setup creates (fixed once the index exists).",
        minimum=1,
    )
    replicas: int = _env(
        "ASCOLTO_ES_REPLICAS",
        0,
        "Replicas of each index's shards (at most the data nodes less one; 1 on a cluster).",
        minimum=0,
    )
    bulk_max_retries: int = 8
    security: ElasticSecurity = field(default_factory=ElasticSecurity)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    # Index-time refresh: 1 s is Elasticsearch's own default; "searchable" means after it.
    refresh_interval: str = "1s"

    def alias(self, name: str) -> str:
        return f"{self.index_prefix}-{name}"

    @property
    def contacts(self) -> str:
        return self.alias("contacts")

    @property
    def conversations(self) -> str:
        return self.alias("conversations")

    @property
    def sla_events(self) -> str:
        return self.alias("sla-events")


@dataclass(frozen=True)
class IngestSettings:
    """Ingest service"""

    host: str = DECLARED.derived("$ASCOLTO_HOST")
    port: int = _env("ASCOLTO_INGEST_PORT", 18080, "The ingest service's HTTP port.", **PORT)
    max_batch: int = _env(
        "ASCOLTO_INGEST_MAX_BATCH", 5000, "Contacts in one POST at most.", minimum=1
    )
    url: str = _env(
        "ASCOLTO_INGEST_URL",
        "http://$ASCOLTO_HOST:$ASCOLTO_INGEST_PORT",
        "Where the CLI, importers and demo post (`https://` when ingest serves TLS).",
    )
    max_body_bytes: int = 32 * 1024 * 1024
    auth: IngestAuthSettings = field(default_factory=IngestAuthSettings)


@dataclass(frozen=True)
class ThreadingSettings:
    """Threading and dedup (event time)"""

    thread_window_s: int = _env(
        "ASCOLTO_THREAD_WINDOW_S",
        24 * 3600,
        "Seconds: a contact joins a conversation whose last contact is at most this old.",
        minimum=1,
    )
    near_dup_window_s: int = _env(
        "ASCOLTO_NEAR_DUP_WINDOW_S",
        24 * 3600,
        "Seconds: the same customer's same text within this long is a near-duplicate.",
        minimum=1,
    )
    inactivity_s: int = _env(
        "ASCOLTO_INACTIVITY_S",
        72 * 3600,
        "Seconds: a conversation with no contact for this long is closed.",
        minimum=1,
    )
    retention_s: int = _env(
        "ASCOLTO_RETENTION_S",
        30 * 24 * 3600,
        "Seconds: a customer's timeline is dropped once its newest contact is this old.",
        minimum=1,
    )
    expire_every_s: float = _env(
        "ASCOLTO_EXPIRE_EVERY_S",
        5.0,
        "How often timelines past the retention are dropped.",
        minimum=0.1,
    )
    # An unsorted archive's watermark runs ahead of contacts still on their way.
    expire_idle_s: float = _env(
        "ASCOLTO_EXPIRE_IDLE_S",
        3600.0,
        "A timeline past the retention is dropped only once untouched this long (wall clock).",
        minimum=0,
    )


@dataclass(frozen=True)
class WorkerSettings:
    """Stream worker"""

    app_id: str = _env(
        "ASCOLTO_APP_ID", "ascolto", "Faust app id: the stream stages' consumer group."
    )
    web_host: str = DECLARED.derived("$ASCOLTO_HOST")
    web_port: int = _env(
        "ASCOLTO_WORKER_WEB_PORT", 16066, "The worker's web server and /metrics.", **PORT
    )
    data_dir: Path = _env(
        "ASCOLTO_WORKER_DATA_DIR",
        Path("$ASCOLTO_RUN_DIR/worker-data"),
        "The worker's local state (Faust's data directory).",
    )
    store: str = _env(
        "ASCOLTO_TABLE_STORE", "memory://", "Faust table store (`memory://` or `rocksdb://`)."
    )
    standby_replicas: int = _env(
        "ASCOLTO_STANDBY_REPLICAS",
        0,
        "Faust's table standby replicas: other workers that also read each table partition's "
        "changelog (docs/deploying.md#sizing).",
        minimum=0,
    )
    batch_size: int = _env(
        "ASCOLTO_BATCH_SIZE", 2000, "Records one stage takes at a time at most.", minimum=1
    )
    # 0.05 s against 0.1 s: the same throughput and CPU, p99 0.3-1.9 s lower (bench/HISTORY.md).
    batch_within_s: float = _env(
        "ASCOLTO_BATCH_WITHIN_S",
        0.05,
        "How long a batch waits to fill: latency per stage (three stages).",
        minimum=0,
    )
    # streams.faust_ext: a contact can wait behind such a fetch for that long.
    fetch_max_wait_s: float = _env(
        "ASCOLTO_FETCH_MAX_WAIT_S",
        0.05,
        "How long the broker may hold a fetch of the worker's that finds nothing new.",
        minimum=0.001,
    )
    # Fewer, fuller requests cost less CPU, and every hop of a contact waits up to this long.
    producer_linger_s: float = _env(
        "ASCOLTO_PRODUCER_LINGER_S",
        0.05,
        "How long the worker's producer waits to fill a request.",
        minimum=0,
    )
    # At CPython's 700, a batch's short-lived objects were promoted into the old generation
    # and set off full passes over all in-memory state every few seconds (streams.gc_pauses).
    gc_young_threshold: int = _env(
        "ASCOLTO_GC_YOUNG_THRESHOLD",
        50_000,
        "New container objects between two young-generation garbage collections.",
        minimum=1,
    )
    index_inline: bool = _env(
        "ASCOLTO_INDEX_INLINE",
        True,
        "Run the index stage in the worker; false when it runs as `ascolto indexer`.",
    )
    indexer_web_port: int = _env(
        "ASCOLTO_INDEXER_WEB_PORT", 16067, "`ascolto indexer`'s /metrics.", **PORT
    )
    direct_delivery: bool = _env(
        "ASCOLTO_DIRECT_DELIVERY",
        True,
        "Hand records to the agents without a task per record; false runs faust's own loop.",
    )
    # At 5,000 a soak's worker held ~180 MiB less, and live contacts of two 200k runs waited
    # 1.2-1.6 s longer, median and p99 (bench/HISTORY.md).
    parsed_cache_messages: int = _env(
        "ASCOLTO_PARSED_CACHE_MESSAGES",
        50_000,
        "Messages of parsed timelines kept beside the table (a few KiB each).",
        minimum=0,
    )
    metric_brands: tuple[str, ...] = _env(
        "ASCOLTO_METRIC_BRANDS",
        (),
        "The brand label's values; other brands count as `(other)`.",
    )
    metric_brands_max: int = _env(
        "ASCOLTO_METRIC_BRANDS_MAX",
        100,
        "With no brands listed, the first this many seen are labelled by name.",
        minimum=1,
    )
    intents_path: Path = _env(
        "ASCOLTO_INTENTS", Path("$defaults/intents.yaml"), "Intent and priority rules."
    )
    sla_policies_path: Path = _env(
        "ASCOLTO_SLA_POLICIES", Path("$defaults/sla-policies.yaml"), "The SLA policy."
    )
    threading: ThreadingSettings = field(default_factory=ThreadingSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)

    @property
    def index_group(self) -> str:
        """The index stage's consumer group: the stream stages' group is ``app_id``."""
        return f"{self.app_id}-index"


@dataclass(frozen=True)
class ObservabilitySettings:
    """Observability"""

    runbook_base_url: str = _env(
        "ASCOLTO_RUNBOOK_BASE_URL",
        "https://github.com/ascolto/ascolto/blob/main/docs/runbook.md",
        "The runbook each alert's `runbook_url` points into (`<url>#<alert>`).",
    )
    alert_routing: Path = _env(
        "ASCOLTO_ALERT_ROUTING",
        Path("$defaults/alert-routing.yaml"),
        "Who hears of which alert: on-call, teams, their receivers, brands to teams; "
        "Alertmanager's configuration is generated from it (docs/alerting.md).",
    )
    alert_secrets_dir: Path = _env(
        "ASCOLTO_ALERT_SECRETS_DIR",
        Path("/etc/alertmanager/secrets"),
        "Where Alertmanager reads the secret files the routing file names by a relative "
        "name (webhook URLs, routing keys, passwords).",
    )


@dataclass(frozen=True)
class Settings:
    """General"""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    elastic: ElasticSettings = field(default_factory=ElasticSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    support: SupportSettings = field(default_factory=SupportSettings)
    prometheus_url: str = _env(
        "ASCOLTO_PROMETHEUS_URL",
        "http://$ASCOLTO_HOST:$ASCOLTO_PROMETHEUS_PORT",
        "Prometheus's URL (readiness, `ascolto report`, bench).",
    )
    event_loop: EventLoop = _env(
        "ASCOLTO_EVENT_LOOP", "uvloop", "The services' asyncio event loop.", choices=EVENT_LOOPS
    )
    run_dir: Path = DECLARED.derived(Path("$ASCOLTO_RUN_DIR"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Raises ConfigError, one line naming the variable, for a value out of its range."""
        return DECLARED.load(cls, os.environ if env is None else env)


# Read only by the stack scripts (deploy/env.sh, deploy/stack.sh), which run Kafka,
# Elasticsearch, Prometheus and Alertmanager on this machine.
DECLARED.declare(
    "ASCOLTO_ROOT", "", "The checkout: deploy/env.sh's parent directory by default.", STACK
)
DECLARED.declare(
    "ASCOLTO_KAFKA_CONTROLLER_PORT", 19093, "Kafka's KRaft controller port.", STACK, **PORT
)
DECLARED.declare(
    "ASCOLTO_KAFKA_SASL_SSL_PORT", 19096, "Kafka's SASL_SSL (SCRAM) listener.", STACK, **PORT
)
DECLARED.declare(
    "ASCOLTO_KAFKA_SSL_PORT", 19097, "Kafka's TLS listener (client certificates).", STACK, **PORT
)
DECLARED.declare(
    "ASCOLTO_KAFKA_HEAP", "512m", "Kafka's JVM heap (each node's, in a cluster).", STACK
)
DECLARED.declare(
    "ASCOLTO_KAFKA_BROKERS",
    1,
    "Kafka brokers the stack runs: 3 starts a KRaft cluster (replication factor 3, "
    "`min.insync.replicas` 2) on ports `ASCOLTO_KAFKA_PORT` + 0, 10, 20 "
    "(docs/deploying.md#a-local-cluster).",
    STACK,
    choices=("1", "3"),
)
DECLARED.declare("ASCOLTO_KAFKA_VERSION", "3.9.1", "Apache Kafka's version.", STACK, pinned=True)
DECLARED.declare(
    "ASCOLTO_ES_TRANSPORT_PORT", 19300, "Elasticsearch's transport port.", STACK, **PORT
)
DECLARED.declare("ASCOLTO_ES_HEAP", "768m", "Elasticsearch's JVM heap.", STACK)
DECLARED.declare(
    "ASCOLTO_ES_WRITE_QUEUE_SIZE",
    10000,
    "Elasticsearch's write queue (thread_pool.write.queue_size; its own default): bulk "
    "writes past it are refused with 429. The fault suite makes it tiny.",
    STACK,
)
DECLARED.declare("ASCOLTO_ES_VERSION", "8.19.7", "Elasticsearch's version.", STACK, pinned=True)
DECLARED.declare(
    "ASCOLTO_ES_USER",
    "ascolto-es",
    "System user Elasticsearch runs as when started by root.",
    STACK,
)
DECLARED.declare("ASCOLTO_ALERTMANAGER_PORT", 19094, "Alertmanager's port.", STACK, **PORT)
# The exporters Prometheus scrapes for Kafka's and Elasticsearch's own health (docs/runbook.md).
DECLARED.declare(
    "ASCOLTO_KAFKA_JMX_EXPORTER_PORT",
    19404,
    "The Prometheus JMX exporter agent in the Kafka broker (/metrics); in a cluster, node N "
    "answers on this port + 10*(N-1).",
    STACK,
    **PORT,
)
DECLARED.declare(
    "ASCOLTO_ES_EXPORTER_PORT", 19405, "prometheus-elasticsearch-exporter's port.", STACK, **PORT
)
DECLARED.declare(
    "ASCOLTO_LAG_EXPORTER_PORT",
    19406,
    "The consumer-group lag exporter's port (`ascolto lag-exporter`).",
    STACK,
    **PORT,
)
DECLARED.declare(
    "ASCOLTO_WORKER_TARGETS",
    "$ASCOLTO_HOST:$ASCOLTO_WORKER_WEB_PORT",
    "Workers Prometheus scrapes, comma-separated `host:port`s.",
    STACK,
)
DECLARED.declare("ASCOLTO_SCRAPE_INTERVAL", "5s", "Prometheus's scrape interval.", STACK)
DECLARED.declare(
    "ASCOLTO_PROMETHEUS_ADMIN_API",
    False,
    "Start Prometheus with its admin API (deleting series, snapshots): off unless asked, as "
    "anyone who reaches its port may use it (docs/security.md#prometheus).",
    STACK,
)
