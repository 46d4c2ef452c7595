"""Index stage: contacts.enriched, conversations and sla.events -> Elasticsearch, in bulk.

The indexer reads with a Kafka consumer and group of its own (``<app_id>-index``), not as
faust agents. faust hands every topic's records out from one loop, so while the thread
agent's buffer was full (a backlog) the index agents waited behind it and search trailed the
enriched topics by minutes. With its own consumer the index stage keeps pace with what the
stream stages publish. It runs inside the worker process (the default) or on its own,
``ascolto indexer``, where it gets a core of its own.

At-least-once: a batch's offsets are committed only once Elasticsearch has accepted its
documents and its dead letters are acknowledged. A replay overwrites the same documents
(streams.sinks.elastic), so a crash or a rebalance repeats work but loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from ascolto.clients import kafka_options
from ascolto.config import Settings
from schemas import Codec, codec
from streams.graceful import backoff_s, finish_even_if_cancelled, until_done
from streams.health import (
    Membership,
    Readiness,
    aiokafka_membership,
    elastic_check,
    group_checks,
    http_routes,
    start_http,
)
from streams.metrics import Stage, WorkerMetrics
from streams.sinks.dead_letter import DeadLetter, SourceMessage
from streams.sinks.elastic import ElasticSink, async_client
from streams.sinks.placement import Placement
from streams.stages import index as index_stage

log = logging.getLogger("ascolto.indexer")

Batch = dict[TopicPartition, list[Any]]  # aiokafka's ConsumerRecord per partition


@dataclass(frozen=True)
class Route:
    stage: Stage
    alias: str
    build: Callable[[Sequence[SourceMessage], Codec, str], index_stage.Built]


def routes(settings: Settings) -> dict[str, Route]:
    """Source topic -> its stage label, index alias and the rule that builds its actions."""
    k, e = settings.kafka, settings.elastic
    return {
        k.enriched: Route("index_contacts", e.contacts, index_stage.contact_actions),
        k.conversations: Route(
            "index_conversations", e.conversations, index_stage.conversation_actions
        ),
        k.sla_events: Route("index_sla", e.sla_events, index_stage.sla_actions),
    }


class _Offsets(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    """Committed offsets of the assigned partitions, kept locally for the lag gauge."""

    def __init__(self, consumer: AIOKafkaConsumer, metrics: WorkerMetrics) -> None:
        self.consumer = consumer
        self.metrics = metrics
        self.committed: dict[TopicPartition, int] = {}

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            self.committed.pop(tp, None)
            with contextlib.suppress(KeyError):  # never exported
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        starts = await self.consumer.beginning_offsets(list(assigned)) if assigned else {}
        for tp in assigned:
            committed = await self.consumer.committed(tp)
            self.committed[tp] = committed if committed is not None else starts.get(tp, 0)

    def export_lag(self) -> None:
        for tp, committed in self.committed.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - committed)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)


class Indexer:
    def __init__(
        self,
        settings: Settings,
        metrics: WorkerMetrics,
        sink: ElasticSink,
        cdc: Codec | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.sink = sink
        self.codec = cdc or codec()
        self.routes = routes(settings)
        self.consumer: AIOKafkaConsumer | None = None  # the running one, for /readyz

    def membership(self) -> Membership | None:
        return aiokafka_membership(self.consumer)

    async def run(self) -> None:
        """Index until cancelled. A batch in flight when cancelled is finished and committed.

        Whatever else goes wrong (Kafka unreachable at start, a fetch error) restarts the
        consumer after a pause, from the committed offsets: indexing never stops silently
        while the process lives on."""
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt = 1 if time.monotonic() - started > 60 else attempt + 1
                log.exception("index: consumer failed, restart %d", attempt)
                self.metrics.batch_retries.labels("index").inc()
                await asyncio.sleep(backoff_s(attempt))

    async def _consume(self) -> None:
        k, w = self.settings.kafka, self.settings.worker
        consumer = AIOKafkaConsumer(
            **kafka_options(k),
            group_id=w.index_group,
            client_id=f"{w.app_id}-indexer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # as the worker's: a crashed indexer's partitions move on after 10 s
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # one fetch in flight, and the topics without news can hold it (streams.faust_ext)
            fetch_max_wait_ms=round(w.fetch_max_wait_s * 1000),
        )
        producer = AIOKafkaProducer(**kafka_options(k), acks="all")
        offsets = _Offsets(consumer, self.metrics)
        self.consumer = consumer
        consumer.subscribe(list(self.routes), listener=offsets)
        await producer.start()
        try:
            await consumer.start()
            try:
                await self._loop(consumer, producer, offsets)
            finally:
                await consumer.stop()
        finally:
            await producer.stop()

    async def _loop(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, offsets: _Offsets
    ) -> None:
        while True:
            batch = await self._take(consumer)
            if batch:
                await finish_even_if_cancelled(
                    self._index_and_commit(batch, consumer, producer, offsets)
                )
            offsets.export_lag()

    async def _take(self, consumer: AIOKafkaConsumer) -> Batch:
        """Up to batch_size records, waiting at most batch_within_s for more once one came
        (as faust's ``take_events``): fewer, fuller bulk requests and commits under load."""
        w = self.settings.worker
        batch: Batch = await consumer.getmany(timeout_ms=1000, max_records=w.batch_size)
        taken = sum(map(len, batch.values()))
        deadline = time.monotonic() + w.batch_within_s
        while taken and taken < w.batch_size and (left := deadline - time.monotonic()) > 0:
            more = await consumer.getmany(
                timeout_ms=max(1, int(left * 1000)), max_records=w.batch_size - taken
            )
            for tp, records in more.items():
                batch.setdefault(tp, []).extend(records)
                taken += len(records)
        return batch

    async def _index_and_commit(
        self,
        batch: Batch,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        offsets: _Offsets,
    ) -> None:
        retries = self.metrics.batch_retries.labels("index")
        await until_done(lambda: self.index(batch, producer), "index: batch", retries)
        await self._commit(consumer, offsets, batch)

    async def index(self, batch: Batch, producer: AIOKafkaProducer) -> None:
        """Write one batch: every topic's documents in the same bulk requests, then its
        dead letters."""
        started = time.perf_counter()
        by_topic: dict[str, list[SourceMessage]] = {}
        for tp, records in batch.items():
            by_topic.setdefault(tp.topic, []).extend(records)
        built: dict[Route, index_stage.Built] = {}
        for topic, records in by_topic.items():
            route = self.routes[topic]
            self.metrics.batch_size.labels(route.stage).observe(len(records))
            built[route] = route.build(records, self.codec, route.stage)
        failed = await self.sink.write_many({r.alias: b.actions for r, b in built.items()})
        indexed_at = time.time()
        dead: list[DeadLetter] = []
        for route, b in built.items():
            for received_at in b.first_received.values():
                self.metrics.latency.observe(max(0.0, indexed_at - received_at / 1000))
            dead += b.dead + index_stage.dead_letters_for(failed[route.alias], b.by_id)
        self.metrics.stage_seconds.labels("index").observe(time.perf_counter() - started)
        await self._dead_letter(producer, dead)

    async def _dead_letter(self, producer: AIOKafkaProducer, letters: list[DeadLetter]) -> None:
        sent = [
            await producer.send(
                self.settings.kafka.dlq,
                key=letter.key,
                value=letter.encode(),
                headers=letter.headers(),
            )
            for letter in letters
        ]
        await asyncio.gather(*sent)
        for letter in letters:
            self.metrics.dead_lettered.labels(letter.stage, letter.reason_code).inc()

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: _Offsets, batch: Batch) -> None:
        positions = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        try:
            await consumer.commit(positions)
        except (CommitFailedError, KafkaError) as exc:
            # The group rebalanced meanwhile: the partitions' new owner indexes these
            # records again, which overwrites the same documents.
            log.warning("index: commit refused (%s); the new owner will redo the batch", exc)
            return
        for tp, offset in positions.items():
            if tp in offsets.committed:
                offsets.committed[tp] = offset


def serve(settings: Settings) -> None:
    """``ascolto indexer``: the index stage as a process of its own, /metrics, /healthz and
    /readyz (checks kafka, assignment, elasticsearch) on its port."""
    from ascolto.event_loop import use_event_loop
    from ascolto.search import setup_indices
    from ascolto.topics import ensure_topics
    from schemas.registry import use_registry
    from streams.gc_pauses import tune as tune_gc
    from streams.gc_pauses import watch as watch_gc_pauses

    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(name)s %(message)s")
    for chatty in ("elastic_transport", "kafka"):  # a line per request or connection
        logging.getLogger(chatty).setLevel(logging.WARNING)
    use_event_loop(settings.event_loop)
    ensure_topics(settings.kafka)
    use_registry(settings.kafka, ["DeadLetter"], "ascolto-indexer")
    setup_indices(settings.elastic)
    e, w = settings.elastic, settings.worker
    registry = CollectorRegistry()
    metrics = WorkerMetrics.create(registry, (e.contacts, e.conversations, e.sla_events))
    watch_gc_pauses(metrics.gc_pauses)
    tune_gc(w.gc_young_threshold)

    async def main() -> None:
        es = async_client(e, request_timeout=60)
        sink = ElasticSink(es, metrics, max_actions=e.bulk_max_actions, placement=Placement(es, e))
        indexer = Indexer(settings, metrics, sink)
        readiness = Readiness(
            {**group_checks(indexer), "elasticsearch": elastic_check(es)}, metrics.ready
        )
        web_runner = await start_http(
            http_routes(registry, readiness), w.web_host, w.indexer_web_port
        )
        task = asyncio.ensure_future(indexer.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        log.info("indexing %s as group %s", ", ".join(indexer.routes), w.index_group)
        try:
            await task
        except asyncio.CancelledError:
            log.info("stopped")
        finally:
            await web_runner.cleanup()
            await es.close()

    asyncio.run(main())
