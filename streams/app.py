"""The Faust app: topics, tables and agents wired together.

    contacts.raw --route--> contacts.keyed --thread--> contacts.enriched --index--> ES contacts
         |                                     |-----> conversations     --index--> ES conversations
         |                                     +-----> sla.events        --index--> ES sla-events
         +--> contacts.dlq (any stage)

route and thread are faust agents; index is streams.indexer, a consumer group of its own that
runs as a task of this app (the default) or as its own process (``ascolto indexer``).

Agents only move data: read a batch, call the rules (streams.rules, streams.agents.*_batch),
write the results. Every agent runs with concurrency 1 and batches with ``take_events``;
faust acknowledges a batch only after the loop body returns, and the body never raises (a
failure is retried or dead-lettered), so offsets are committed only for work that is done.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import faust
from elasticsearch import AsyncElasticsearch
from faust.types import EventT, StreamT
from prometheus_client import CollectorRegistry, generate_latest

from ascolto.config import Settings
from ascolto.topics import DIRECTORY_TABLE, TIMELINES_TABLE
from schemas import Codec, codec
from streams.agents import thread as thread_stage
from streams.agents.publish import Outputs
from streams.agents.route import route_batch
from streams.agents.state_cache import ParsedTimelines
from streams.faust_ext import WorkerApp
from streams.gc_pauses import watch as watch_gc_pauses
from streams.graceful import finish_even_if_cancelled, until_done
from streams.indexer import Indexer
from streams.metrics import BrandLabels, WorkerMetrics, export_lag, observe_waits
from streams.partitioning import partition_of
from streams.rules.enrich import Enricher
from streams.rules.threading import ThreadingParams
from streams.sinks.dead_letter import DeadLetter
from streams.sinks.elastic import ElasticSink, async_client
from streams.sla.gauges import ConversationGauges
from streams.sla.policy import Policy, load_policy
from streams.sla.wakeups import DueIndex, WakeIndex
from streams.sla.watermark import Watermark

log = logging.getLogger("ascolto.worker")

# The due-clock timer re-judges at most SLA_KEYS_PER_TICK customers a tick (the others stay
# due for the next one), SLA_KEYS_PER_HOLD of them under one hold of the lock the thread agent
# steps under: a tick of ~450 customers took ~250 ms, and the thread agent's contacts waited
# for all of it (bench/results/sla-holds/). Both it and the thread agent let the other tasks
# (the route agent, the indexer, the producer's sender) run every YIELD_EVERY customers: a
# step can take milliseconds.
SLA_KEYS_PER_TICK = 1000
SLA_KEYS_PER_HOLD = 100
YIELD_EVERY = 50
EXPIRE_CHUNK = 500  # timelines expired under one hold of the lock


@dataclass
class Pipeline:
    """Everything the agents share besides Faust itself."""

    settings: Settings
    codec: Codec
    metrics: WorkerMetrics
    enricher: Enricher
    params: ThreadingParams
    policy: Policy
    es: AsyncElasticsearch
    sink: ElasticSink


def _raw_topic(app: faust.App, name: str, **kwargs: Any) -> faust.TopicT:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        **kwargs,
    )


def create_app(settings: Settings) -> faust.App:
    w, k = settings.worker, settings.kafka
    app = WorkerApp(
        w.app_id,
        gapless_topics=(k.raw, k.keyed),
        fetch_max_wait_ms=round(w.fetch_max_wait_s * 1000),
        direct_delivery=w.direct_delivery,
        broker=f"kafka://{k.bootstrap}",
        store=w.store,
        datadir=str(w.data_dir),
        topic_partitions=k.partitions,
        topic_replication_factor=1,
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
        # (50 ms against 10 ms: the same p99, bench/results/sla-holds/).
        producer_linger_ms=round(w.producer_linger_s * 1000),
        producer_max_batch_size=512 * 1024,
        producer_acks=-1,
        stream_buffer_maxsize=8192,
        table_standby_replicas=0,
    )
    registry = CollectorRegistry()
    e = settings.elastic
    brands = BrandLabels(w.metric_brands, w.metric_brands_max)
    metrics = WorkerMetrics.create(registry, (e.contacts, e.conversations, e.sla_events), brands)
    watch_gc_pauses(metrics.gc_pauses)
    es = async_client(settings.elastic.url, request_timeout=60)
    t = settings.worker.threading
    pipe = Pipeline(
        settings=settings,
        codec=codec(),
        metrics=metrics,
        enricher=Enricher.from_file(w.intents_path),
        params=ThreadingParams(
            thread_window_ms=t.thread_window_s * 1000,
            near_dup_window_ms=t.near_dup_window_s * 1000,
            inactivity_ms=t.inactivity_s * 1000,
        ),
        policy=load_policy(w.sla_policies_path),
        es=es,
        sink=ElasticSink(es, metrics, max_actions=settings.elastic.bulk_max_actions),
    )

    # The agents' sources. Outputs go through app.producer itself (streams.agents.publish);
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

    async def dead_letter(letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            key = (letter.contact_id or "").encode() or None
            await app.producer.send(k.dlq, key, letter.encode(), None, None, None)
            metrics.dead_lettered.labels(letter.stage, letter.reason_code).inc()

    @lru_cache(maxsize=65536)
    def _decode_profile(raw_profile: bytes) -> dict[str, Any]:
        return pipe.codec.decode(raw_profile, expect="Customer")

    def lookup(identity: str) -> dict[str, Any] | None:
        raw_profile = directory.get(identity.encode())
        return _decode_profile(raw_profile) if raw_profile else None

    @app.agent(customers, concurrency=1)
    async def load_directory(stream: StreamT) -> None:
        async for event in stream.events():
            key = event.message.key
            if not key:
                continue
            if event.message.value is None:
                directory.pop(key, None)
            else:
                directory[key] = event.message.value

    async def batches(
        stream: StreamT, stage: str, handle: Callable[[Sequence[EventT]], Awaitable[None]]
    ) -> None:
        take = stream.take_events  # type: ignore[attr-defined]  # missing from faust's StreamT
        async for events in take(w.batch_size, within=w.batch_within_s):
            started = time.perf_counter()
            metrics.batch_size.labels(stage).observe(len(events))
            # the lambda is awaited within this iteration: it sees this iteration's events
            await until_done(
                lambda: finish_even_if_cancelled(handle(events)),  # noqa: B023
                f"{stage}: batch of {len(events)}",
                metrics.batch_retries.labels(stage),
            )
            metrics.stage_seconds.labels(stage).observe(time.perf_counter() - started)

    lateness_ms = w.sla.allowed_lateness_s * 1000
    route_waited, thread_waited = (metrics.stage_wait.labels(s) for s in ("route", "thread"))

    @app.agent(raw, concurrency=1)
    async def route(stream: StreamT) -> None:
        async def handle(events: Sequence[EventT]) -> None:
            routed = route_batch(events, pipe.codec, pipe.enricher, lookup, lateness_ms)
            observe_waits(route_waited, routed.started_ms, routed.received_ms)
            for key, value in routed.keyed:
                await app.producer.send(k.keyed, key, value, None, None, None)
            await dead_letter(routed.dead)
            for channel, direction in routed.channels:
                metrics.processed.labels(channel, direction).inc()
            metrics.first_sight(sorted(routed.groups))  # sorted: which brands come first
            for brand, channel, sentiment, priority, clock in routed.inbound:
                metrics.inbound.labels(
                    metrics.brand(brand), channel, sentiment, priority or "none", clock
                ).inc()
            metrics.published.labels("contacts.keyed").inc(len(routed.keyed))

        await batches(stream, "route", handle)

    outputs = Outputs(pipe.codec, metrics, app.producer, k.enriched, k.conversations, k.sla_events)
    watermark = Watermark(lateness_ms)
    wake_index = WakeIndex()
    expiry = DueIndex()  # customers by when their whole timeline outlives the retention
    touched: dict[bytes, float] = {}  # customer -> when (wall clock) last stepped
    parsed = ParsedTimelines(max_messages=w.parsed_cache_messages)
    retention_ms = t.retention_s * 1000
    gauges = ConversationGauges(inactivity_ms=t.inactivity_s * 1000)

    def sla_context() -> thread_stage.SlaContext:
        return thread_stage.SlaContext(
            pipe.policy, watermark.lateness_ms, thread_stage.now_ms(), watermark.now()
        )

    # The thread agent and the due-clock timer both load a timeline, step it and write it back;
    # the timer awaits Kafka's acknowledgements in between. Without this lock the agent can
    # step the same customer meanwhile, and the timer's write then drops the agent's contacts.
    stepping = asyncio.Lock()

    changelog = timelines.changelog_topic.get_topic_name()

    async def keep(key: bytes, state: thread_stage.TimelineState) -> None:
        """Write the table and its changelog. Not as ``timelines[key] = value``: faust sends
        that changelog record through its topic machinery, which cost the outputs 15-20 times
        the producer's own send (streams.agents.publish). The producer is the one faust
        flushes before it commits offsets; the partitioner picks the partition faust would."""
        state, value, trimmed = thread_stage.within_size(state, pipe.params)
        if trimmed:
            log.warning("timeline %r over %d bytes: %d oldest conversations dropped",
                        key, thread_stage.MAX_STATE_BYTES, trimmed)  # fmt: skip
            metrics.trimmed.inc(trimmed)
        timelines.raw_update({key: value})  # the store alone
        await app.producer.send(changelog, key, value, None, None, None)
        parsed.keep(key, value, state)

    def step(key: bytes, records: list[dict[str, Any]], sla: thread_stage.SlaContext):
        """One customer's step: derive, judge, and keep the table and indexes current."""
        state = parsed.load(key, timelines.get(key))
        new_state, out = thread_stage.thread_timeline(
            state, records, pipe.params, retention_ms, sla
        )
        wake_index.set(key, new_state.wake)
        expiry.set(key, new_state.expires_at(retention_ms))
        touched[key] = time.monotonic()
        gauges.update(key, new_state, sla)
        return state, new_state, out

    @app.agent(keyed, concurrency=1)
    async def thread(stream: StreamT) -> None:
        async def handle(events: Sequence[EventT]) -> None:
            started_ms = thread_stage.now_ms()
            items: list[tuple[bytes, dict[str, Any]]] = []
            dead: list[DeadLetter] = []
            for event in events:
                try:
                    record = pipe.codec.decode(event.message.value, expect="EnrichedContact")
                except Exception as exc:
                    dead.append(DeadLetter.of_event(event, "thread", "schema", str(exc)))
                    continue
                watermark.observe(record["contact"])
                items.append((event.message.key or b"", record))
            observe_waits(
                thread_waited, started_ms, (r["contact"]["received_at"] for _, r in items)
            )
            sla = sla_context()
            async with stepping:
                groups = thread_stage.group_by_key(items).items()
                written: list[tuple[bytes, thread_stage.TimelineState]] = []
                pending: list[Awaitable[Any]] = []
                for i, (key, records) in enumerate(groups, 1):
                    state, new_state, out = step(key, records, sla)
                    pending += await outputs.publish(out)
                    if new_state is not state:
                        written.append((key, new_state))
                    if i % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
                # The outputs first: a timeline written before them and then replayed (a
                # crash, a failed send) finds its contacts known and would not send its
                # tombstones and retractions again.
                await asyncio.gather(*pending)
                for key, new_state in written:
                    await keep(key, new_state)
            await dead_letter(dead)
            metrics.watermark_seconds.set(watermark.now() / 1000)

        await batches(stream, "thread", handle)

    def reindex() -> None:
        """Rebuild the in-memory indexes from the table after an assignment changed, keeping
        only the timelines of this worker's partitions. On a revocation faust's in-memory store
        forgets only the keys it restored from the changelog, not those this worker wrote. Left
        there, the timers would step other workers' customers and write to their changelog,
        where a later recovery would take a stale timeline for the latest."""
        # contacts.keyed's partitions, which the changelog's follow: the changelog can be
        # missing from an assignment (ascolto.topics.changelog_specs)
        mine = {tp.partition for tp in app.consumer.assignment() if tp.topic == k.keyed}
        expiry.clear()
        touched.clear()
        wakes = []
        restored_at = time.monotonic()  # as if stepped now: they idle from here
        for key, value in list(timelines.items()):
            if partition_of(key, k.partitions) not in mine:
                del timelines.data[key]  # the store alone: the changelog is its owner's
                continue
            state = thread_stage.TimelineState.load(value)
            expiry.set(key, state.expires_at(retention_ms))
            touched[key] = restored_at
            wakes.append((key, state.wake))
        wake_index.rebuild(wakes)

    def settling() -> bool:
        """A rebalance, or the recovery after it, is under way: the table is not settled."""
        return bool(app.rebalancing or app.tables.recovery.in_recovery)  # type: ignore[attr-defined]

    async def guarded(tick: Callable[[], Awaitable[None]]) -> None:
        """faust runs a timer's body unguarded: an exception would stop the worker, and after
        a restart the same customers would be due again. The wakes and expiries the tick took
        out of the indexes are rebuilt from the table instead (reindex, next tick)."""
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sla: a timer's tick failed; its customers are judged again")
            metrics.batch_retries.labels("sla").inc()
            wake_index.stale = True

    @app.timer(interval=w.sla.check_interval_s)
    async def judge_due_clocks() -> None:
        """Re-judge customers whose SLA clocks changed since: warnings and breaches happen
        when nothing arrives. Table writes wait for the outputs to be acknowledged, so a
        crash can repeat an event but never lose one."""
        if settling():
            return
        if wake_index.stale:
            reindex()
        await guarded(judge_due)

    async def judge_due() -> None:
        judged = 0
        while judged < SLA_KEYS_PER_TICK:
            async with stepping:
                taken = await judge_a_hold()
            if taken is None or taken < SLA_KEYS_PER_HOLD:  # a rebalance began, or none left
                return
            judged += taken

    async def judge_a_hold() -> int | None:
        """Take up to SLA_KEYS_PER_HOLD due customers and step them with no new contact; how
        many were taken, None if a rebalance began meanwhile. The caller holds the lock: a
        customer taken off the wake index is judged before anything else can step or expire
        it."""
        if settling() or wake_index.stale:  # a rebalance began since the tick did
            return None
        sla = sla_context()
        started = time.perf_counter()
        taken = wake_index.due(sla.wall_ms, sla.watermark_ms, limit=SLA_KEYS_PER_HOLD)
        due = [k for k in taken if k in timelines]
        written: list[tuple[bytes, thread_stage.TimelineState]] = []
        pending: list[Awaitable[Any]] = []
        for i, key in enumerate(due, 1):
            state, new_state, out = step(key, [], sla)
            if new_state is not state:
                pending += await outputs.publish(out)
                written.append((key, new_state))
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        await asyncio.gather(*pending)
        if settling():  # revoked meanwhile: these timelines may be another worker's now
            wake_index.stale = True
            return None
        for key, new_state in written:
            await keep(key, new_state)
        if due:
            metrics.stage_seconds.labels("sla").observe(time.perf_counter() - started)
            metrics.batch_size.labels("sla").observe(len(due))
        return len(taken)

    async def drop(key: bytes) -> None:
        """Delete a timeline from the store and its changelog, on keep()'s path: through
        faust's own buffer, its tombstone could land after a newer timeline keep() sent."""
        timelines.data.pop(key, None)
        await app.producer.send(changelog, key, None, None, None, None)
        parsed.forget(key)

    @app.timer(interval=t.expire_every_s)
    async def expire_timelines() -> None:
        """Drop whole timelines of customers silent for the retention period, by event time.
        Eviction inside a step only runs when a customer writes again; this bounds the state
        of those who never do. A contact later than the retention starts afresh."""
        if settling() or wake_index.stale:
            return
        await guarded(expire)

    async def expire() -> None:
        now = watermark.now()
        idle_before = time.monotonic() - t.expire_idle_s
        later: list[bytes] = []
        while not settling():
            # in chunks, letting the thread agent in between: new customers arrive at
            # hundreds a second, and all of them must be able to leave as fast
            async with stepping:
                due = expiry.pop_due(now, limit=EXPIRE_CHUNK)
                for key in due:
                    # a clock still runs (judge it first), or the customer was stepped
                    # lately (an archive's contacts may still be on their way): next tick
                    if key in wake_index or touched.get(key, 0.0) > idle_before:
                        later.append(key)
                        continue
                    await drop(key)
                    touched.pop(key, None)
                    gauges.forget(key)
                    metrics.timelines_expired.inc()
            if len(due) < EXPIRE_CHUNK:
                break
            await asyncio.sleep(0)
        for key in later:
            if key in timelines and key not in expiry:  # not stepped meanwhile
                expiry.set(key, now)

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def on_rebalance(sender: Any, **kwargs: Any) -> None:
        wake_index.stale = True
        gauges.clear()
        parsed.clear()

    if w.index_inline:
        indexer = Indexer(settings, metrics, pipe.sink, pipe.codec)

        @app.task
        async def index_outputs() -> None:
            await indexer.run()

    sources = {k.raw, k.keyed}  # the indexer reports its own (streams.indexer)
    lag_exported: set[tuple[str, str]] = set()

    @app.timer(interval=5.0)
    async def export_gauges() -> None:
        nonlocal lag_exported
        metrics.timelines.set(len(timelines))
        gauges.export(metrics, thread_stage.now_ms(), watermark.now())
        consumer = app.consumer
        # faust keeps its committed offsets privately; lag = end of log - committed
        committed = getattr(consumer, "_committed_offset", {})
        lags: dict[tuple[str, str], int] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp) if tp.topic in sources else None
            if highwater is not None and highwater >= 0:
                lags[tp.topic, str(tp.partition)] = max(0, highwater - (committed.get(tp) or 0))
        lag_exported = export_lag(metrics.consumer_lag, lags, lag_exported)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # aiohttp wants the charset apart from the content type
        return web.bytes(generate_latest(registry), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"ok": True})

    app.pipeline = pipe  # type: ignore[attr-defined]
    return app
