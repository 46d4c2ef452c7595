"""The Faust app: topics, tables, agents and timers wired to the stages (streams.stages).

    contacts.raw --route--> contacts.keyed --thread--> contacts.enriched --index--> ES contacts
         |                                     |-----> conversations     --index--> ES conversations
         |                                     +-----> sla.events        --index--> ES sla-events
         +--> contacts.dlq (any stage)

route and thread are faust agents; index is streams.indexer, a consumer group of its own that
runs as a task of this app (the default) or as its own process (``ascolto indexer``).

Agents and timers only move data: each body hands a batch or a tick to its stage
(streams.stages), which calls the rules and writes the results. Every agent runs with
concurrency 1 and batches with ``take_events``; faust acknowledges a batch only after the loop
body returns, and the body never raises (a failure is retried or dead-lettered), so offsets
are committed only for work that is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import faust
from faust.types import EventT, StreamT
from prometheus_client import CollectorRegistry

from ascolto.clients import faust_options
from ascolto.config import Settings
from ascolto.topics import DIRECTORY_TABLE, TIMELINES_TABLE
from schemas import codec
from streams.faust_ext import WorkerApp
from streams.gc_pauses import watch as watch_gc_pauses
from streams.graceful import finish_even_if_cancelled, until_done
from streams.health import FaustProbes, Readiness, faust_pages, worker_checks
from streams.indexer import Indexer
from streams.metrics import BrandLabels, WorkerMetrics
from streams.policy_reload import PolicyReload
from streams.rules.enrich import Enricher
from streams.rules.threading import ThreadingParams
from streams.sinks.dead_letter import DeadLetterSender
from streams.sinks.elastic import ElasticSink, async_client
from streams.sinks.placement import Placement
from streams.sla.gauges import ConversationGauges
from streams.sla.watermark import Watermark
from streams.stages.due_clocks import DueClocks
from streams.stages.expiry import Expiry
from streams.stages.gauges import WorkerGauges
from streams.stages.publish import Outputs
from streams.stages.route import Directory, RouteStage
from streams.stages.thread import ThreadStage
from streams.stages.timeline_cache import TimelineCache

log = logging.getLogger("ascolto.worker")


def worker_app(settings: Settings) -> WorkerApp:
    w, k = settings.worker, settings.kafka
    return WorkerApp(
        w.app_id,
        gapless_topics=(k.raw, k.keyed),
        fetch_max_wait_ms=round(w.fetch_max_wait_s * 1000),
        direct_delivery=w.direct_delivery,
        broker=f"kafka://{k.bootstrap}",
        **faust_options(k),
        store=w.store,
        datadir=str(w.data_dir),
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication_factor,
        web_host=w.web_host,
        web_port=w.web_port,
        web_bind=w.web_host,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        # A crashed worker's partitions move to the others after 10 s, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        # Fewer, fuller produce requests: the aiokafka sender and its socket writes were
        # ~12 % of the worker's CPU at 5 ms. Adds at most the linger per hop to the latency
        # (50 ms against 10 ms: the same p99, bench/HISTORY.md).
        producer_linger_ms=round(w.producer_linger_s * 1000),
        producer_max_batch_size=512 * 1024,
        producer_acks=-1,
        stream_buffer_maxsize=8192,
        table_standby_replicas=w.standby_replicas,
    )


def _raw_topic(app: faust.App, name: str, **kwargs: Any) -> faust.TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        **kwargs,
    )


class Batches:
    """An agent's stream handed to a stage in batches, each retried until done."""

    def __init__(self, size: int, within_s: float, metrics: WorkerMetrics) -> None:
        self.size, self.within_s, self.metrics = size, within_s, metrics

    async def run(
        self, stream: StreamT, stage: str, handle: Callable[[Sequence[EventT]], Awaitable[None]]
    ) -> None:
        metrics = self.metrics
        take = stream.take_events  # type: ignore[attr-defined]  # missing from faust's StreamT
        async for events in take(self.size, within=self.within_s):
            started = time.perf_counter()
            metrics.batch_size.labels(stage).observe(len(events))
            # the lambda is awaited within this iteration: it sees this iteration's events
            await until_done(
                lambda: finish_even_if_cancelled(handle(events)),  # noqa: B023
                f"{stage}: batch of {len(events)}",
                metrics.batch_retries.labels(stage),
            )
            metrics.stage_seconds.labels(stage).observe(time.perf_counter() - started)


class FaustAssignment:
    """This worker's partitions, as the running faust app knows them."""

    def __init__(self, app: faust.App, keyed_topic: str) -> None:
        self.app, self.keyed_topic = app, keyed_topic

    def settling(self) -> bool:
        return bool(self.app.rebalancing or self.app.tables.recovery.in_recovery)  # type: ignore[attr-defined]

    def partitions(self) -> Collection[int]:
        assigned = self.app.consumer.assignment()
        return {tp.partition for tp in assigned if tp.topic == self.keyed_topic}


def create_app(settings: Settings, policies: PolicyReload | None = None) -> faust.App:
    """policies: the SLA policy with its history (streams.worker reads it from Kafka);
    None, the policy file alone."""
    w, k, e, t = settings.worker, settings.kafka, settings.elastic, settings.worker.threading
    app = worker_app(settings)
    registry = CollectorRegistry()
    brands = BrandLabels(w.metric_brands, w.metric_brands_max)
    metrics = WorkerMetrics.create(registry, (e.contacts, e.conversations, e.sla_events), brands)
    watch_gc_pauses(metrics.gc_pauses)
    es = async_client(e, request_timeout=60)
    sink = ElasticSink(es, metrics, max_actions=e.bulk_max_actions, placement=Placement(es, e))
    the_codec = codec()
    lateness_ms = w.sla.allowed_lateness_s * 1000
    policies = policies or PolicyReload.start(w.sla_policies_path, None)
    policies.register(registry)

    # The agents' sources. Outputs go through app.producer itself (streams.stages.publish);
    # the worker created every topic on start (ascolto.topics).
    raw = _raw_topic(app, k.raw)
    keyed = _raw_topic(app, k.keyed)
    customers = _raw_topic(app, k.customers)

    # The directory is global: every worker needs every customer to route any contact.
    # key_type/value_type bytes: faust then (de)serialises table changelogs as raw bytes.
    directory = app.GlobalTable(
        DIRECTORY_TABLE, key_type=bytes, value_type=bytes, use_partitioner=True
    )
    # Timelines are partitioned like contacts.keyed. use_partitioner: the changelog partition
    # comes from the key, not from "the current event", which is wrong inside a batch.
    timelines = app.Table(TIMELINES_TABLE, key_type=bytes, value_type=bytes, use_partitioner=True)

    dead_letters = DeadLetterSender(app.producer, k.dlq, metrics)
    customer_directory = Directory(directory, the_codec)
    router = RouteStage(
        the_codec,
        Enricher.from_file(w.intents_path),
        customer_directory,
        app.producer,
        k.keyed,
        dead_letters,
        metrics,
        lateness_ms,
    )
    stage = ThreadStage(
        table=timelines,
        changelog=timelines.changelog_topic.get_topic_name(),
        producer=app.producer,
        outputs=Outputs(
            the_codec, metrics, app.producer, k.enriched, k.conversations, k.sla_events, k.audit
        ),
        codec=the_codec,
        dead_letters=dead_letters,
        metrics=metrics,
        params=ThreadingParams(
            thread_window_ms=t.thread_window_s * 1000,
            near_dup_window_ms=t.near_dup_window_s * 1000,
            inactivity_ms=t.inactivity_s * 1000,
        ),
        policy=policies,
        retention_ms=t.retention_s * 1000,
        partitions=k.partitions,
        assignment=FaustAssignment(app, k.keyed),
        watermark=Watermark(lateness_ms),
        cache=TimelineCache(max_messages=w.parsed_cache_messages),
        gauges=ConversationGauges(inactivity_ms=t.inactivity_s * 1000),
    )
    due_clocks, expiry = DueClocks(stage), Expiry(stage, idle_s=t.expire_idle_s)
    gauges = WorkerGauges(stage, metrics, sources={k.raw, k.keyed})
    batches = Batches(w.batch_size, w.batch_within_s, metrics)

    @app.agent(customers, concurrency=1)
    async def load_directory(stream: StreamT) -> None:
        async for event in stream.events():
            if (letter := customer_directory.take(event.message)) is not None:
                await dead_letters.send([letter])

    @app.agent(raw, concurrency=1)
    async def route(stream: StreamT) -> None:
        await batches.run(stream, "route", router.handle)

    @app.agent(keyed, concurrency=1)
    async def thread(stream: StreamT) -> None:
        await batches.run(stream, "thread", stage.handle)

    @app.timer(interval=w.sla.check_interval_s)
    async def judge_due_clocks() -> None:
        await due_clocks.tick()

    @app.timer(interval=w.sla.policy_reload_s)
    async def reload_sla_policy() -> None:
        await policies.tick()

    @app.timer(interval=t.expire_every_s)
    async def expire_timelines() -> None:
        await expiry.tick()

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def on_rebalance(sender: Any, **kwargs: Any) -> None:
        stage.rebalanced()

    if w.index_inline:
        indexer = Indexer(settings, metrics, sink, the_codec)

        @app.task
        async def index_outputs() -> None:
            await indexer.run()

    @app.timer(interval=5.0)
    async def export_gauges() -> None:
        gauges.export(app.consumer)

    faust_pages(app, registry, Readiness(worker_checks(FaustProbes(app), es), metrics.ready))
    return app
