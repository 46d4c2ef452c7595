"""Typed settings, built once from the environment in each entry point and passed down.

Every variable is documented in the README; defaults run the local stack on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "deploy" / "config"
N = TypeVar("N", int, float)  # a number setting


class ConfigError(ValueError):
    """A setting (or a file the user gave) that must be fixed: the CLI prints it on one line."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = "127.0.0.1:19092"
    topic_prefix: str = ""
    partitions: int = 4

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
    def conversations(self) -> str:
        return self.topic("conversations")

    @property
    def customers(self) -> str:
        return self.topic("customers")

    @property
    def sla_events(self) -> str:
        return self.topic("sla.events")


@dataclass(frozen=True)
class ElasticSettings:
    url: str = "http://127.0.0.1:19200"
    index_prefix: str = "ascolto"
    bulk_max_actions: int = 2000
    bulk_max_retries: int = 8
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
    host: str = "127.0.0.1"
    port: int = 18080
    max_batch: int = 5000
    max_body_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True)
class ThreadingSettings:
    thread_window_s: int = 24 * 3600
    near_dup_window_s: int = 24 * 3600
    inactivity_s: int = 72 * 3600
    retention_s: int = 30 * 24 * 3600
    expire_every_s: float = 5.0  # how often whole timelines past the retention are dropped
    # ... and only once untouched this long on the wall clock: an unsorted archive's
    # watermark runs ahead of contacts still on their way
    expire_idle_s: float = 3600.0


@dataclass(frozen=True)
class SlaSettings:
    # A contact that arrives later than this after it happened is a replay (archive, backlog):
    # judged by the event-time watermark, which trails the newest event time by this much.
    allowed_lateness_s: int = 600
    check_interval_s: float = 1.0


@dataclass(frozen=True)
class WorkerSettings:
    app_id: str = "ascolto"
    web_host: str = "127.0.0.1"
    web_port: int = 16066
    data_dir: Path = ROOT / ".run" / "worker-data"
    store: str = "memory://"
    batch_size: int = 2000
    # A batch waits at most this long to fill: latency per stage (three stages). 0.05 s
    # against 0.1 s: the same throughput and CPU, p99 0.3-1.9 s lower (bench/results/batch-window/).
    batch_within_s: float = 0.05
    # How long the broker may hold a fetch of the worker's consumers that finds nothing new
    # (streams.fetch_wait): a contact can wait behind such a fetch for that long.
    fetch_max_wait_s: float = 0.05
    # How long the worker's producer waits to fill a request: fewer, fuller requests cost
    # less CPU, and every hop of a contact waits up to this long.
    producer_linger_s: float = 0.05
    # New container objects between two young-generation collections (CPython: 700). At
    # 700, a batch's short-lived objects were promoted into the old generation and set off
    # full passes over all in-memory state every few seconds (streams.gc_pauses).
    gc_young_threshold: int = 50_000
    # The index stage (streams.indexer) as a task of the worker, or off when it runs as its
    # own process, ``ascolto indexer``, serving /metrics on indexer_web_port.
    index_inline: bool = True
    indexer_web_port: int = 16067
    # Records handed from faust's fetch loop to the agents without a task per record
    # (streams.faust_delivery); false runs faust's own loop.
    direct_delivery: bool = True
    # Messages of parsed timelines the thread stage keeps beside the table (a few KiB each):
    # memory against latency. At 5,000 a soak's worker held ~180 MiB less, and live contacts
    # of two 200k runs waited 1.2-1.6 s longer, median and p99 (bench/results/parsed-cache/).
    parsed_cache_messages: int = 50_000
    # The brand label's values (streams.metrics.BrandLabels): these brands by name, or with
    # none listed the first metric_brands_max seen; the rest count as "(other)".
    metric_brands: tuple[str, ...] = ()
    metric_brands_max: int = 100
    intents_path: Path = CONFIG_DIR / "intents.yaml"
    sla_policies_path: Path = CONFIG_DIR / "sla-policies.yaml"
    threading: ThreadingSettings = field(default_factory=ThreadingSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)

    @property
    def index_group(self) -> str:
        """The index stage's consumer group: the stream stages' group is ``app_id``."""
        return f"{self.app_id}-index"


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    elastic: ElasticSettings = field(default_factory=ElasticSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    prometheus_url: str = "http://127.0.0.1:19090"
    event_loop: str = "uvloop"  # or "asyncio" (ascolto.event_loop)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        host = e.get("ASCOLTO_HOST", "127.0.0.1")

        def get(name: str, default: str) -> str:
            return e.get(name, default)

        def parsed(name: str, default: str, kind: type[N], what: str, minimum: float) -> N:
            raw = get(name, default)
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r}: expected {what}") from None
            if value < minimum:
                raise ConfigError(f"{name}={raw!r}: must be at least {minimum:g}")
            return value

        def number(name: str, default: str, minimum: float = 1) -> int:
            return parsed(name, default, int, "a whole number", minimum)

        def seconds(name: str, default: str, minimum: float = 0) -> float:
            return parsed(name, default, float, "a number of seconds", minimum)

        def flag(name: str, default: str) -> bool:
            try:
                return _flag(get(name, default))
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None

        kafka_port = get("ASCOLTO_KAFKA_PORT", "19092")
        es_port = get("ASCOLTO_ES_PORT", "19200")
        run_dir = Path(get("ASCOLTO_RUN_DIR", str(ROOT / ".run")))
        return cls(
            kafka=KafkaSettings(
                bootstrap=get("ASCOLTO_KAFKA_BOOTSTRAP", f"{host}:{kafka_port}"),
                topic_prefix=get("ASCOLTO_TOPIC_PREFIX", ""),
                partitions=number("ASCOLTO_PARTITIONS", "4"),
            ),
            elastic=ElasticSettings(
                url=get("ASCOLTO_ES_URL", f"http://{host}:{es_port}"),
                index_prefix=get("ASCOLTO_INDEX_PREFIX", "ascolto"),
                bulk_max_actions=number("ASCOLTO_ES_BULK_MAX_ACTIONS", "2000"),
            ),
            ingest=IngestSettings(
                host=host,
                port=number("ASCOLTO_INGEST_PORT", "18080"),
                max_batch=number("ASCOLTO_INGEST_MAX_BATCH", "5000"),
            ),
            worker=WorkerSettings(
                app_id=get("ASCOLTO_APP_ID", "ascolto"),
                web_host=host,
                web_port=number("ASCOLTO_WORKER_WEB_PORT", "16066"),
                data_dir=Path(get("ASCOLTO_WORKER_DATA_DIR", str(run_dir / "worker-data"))),
                store=get("ASCOLTO_TABLE_STORE", "memory://"),
                batch_size=number("ASCOLTO_BATCH_SIZE", "2000"),
                batch_within_s=seconds("ASCOLTO_BATCH_WITHIN_S", "0.05"),
                fetch_max_wait_s=seconds("ASCOLTO_FETCH_MAX_WAIT_S", "0.05", minimum=0.001),
                producer_linger_s=seconds("ASCOLTO_PRODUCER_LINGER_S", "0.05"),
                gc_young_threshold=number("ASCOLTO_GC_YOUNG_THRESHOLD", "50000", minimum=0),
                index_inline=flag("ASCOLTO_INDEX_INLINE", "true"),
                indexer_web_port=number("ASCOLTO_INDEXER_WEB_PORT", "16067"),
                direct_delivery=flag("ASCOLTO_DIRECT_DELIVERY", "true"),
                parsed_cache_messages=number("ASCOLTO_PARSED_CACHE_MESSAGES", "50000", minimum=0),
                metric_brands=tuple(
                    b.strip() for b in get("ASCOLTO_METRIC_BRANDS", "").split(",") if b.strip()
                ),
                metric_brands_max=number("ASCOLTO_METRIC_BRANDS_MAX", "100"),
                intents_path=Path(get("ASCOLTO_INTENTS", str(CONFIG_DIR / "intents.yaml"))),
                sla_policies_path=Path(
                    get("ASCOLTO_SLA_POLICIES", str(CONFIG_DIR / "sla-policies.yaml"))
                ),
                threading=ThreadingSettings(
                    thread_window_s=number("ASCOLTO_THREAD_WINDOW_S", str(24 * 3600)),
                    near_dup_window_s=number("ASCOLTO_NEAR_DUP_WINDOW_S", str(24 * 3600)),
                    inactivity_s=number("ASCOLTO_INACTIVITY_S", str(72 * 3600)),
                    retention_s=number("ASCOLTO_RETENTION_S", str(30 * 24 * 3600)),
                    expire_every_s=seconds("ASCOLTO_EXPIRE_EVERY_S", "5", minimum=0.1),
                    expire_idle_s=seconds("ASCOLTO_EXPIRE_IDLE_S", "3600"),
                ),
                sla=SlaSettings(
                    allowed_lateness_s=number("ASCOLTO_SLA_ALLOWED_LATENESS_S", "600", minimum=0),
                    check_interval_s=seconds("ASCOLTO_SLA_CHECK_INTERVAL_S", "1.0", minimum=0.1),
                ),
            ),
            prometheus_url=get(
                "ASCOLTO_PROMETHEUS_URL",
                f"http://{host}:{get('ASCOLTO_PROMETHEUS_PORT', '19090')}",
            ),
            event_loop=get("ASCOLTO_EVENT_LOOP", "uvloop"),
        )


def _flag(value: str) -> bool:
    """A yes/no variable: true/false, yes/no, on/off or 1/0, any case; anything else is an error."""
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ValueError(f"not a yes/no value: {value!r} (use true or false)")
