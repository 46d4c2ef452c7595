"""``ascolto nudger``: conversations at risk and late, pushed to the support team that owns the
brand, through its Slack-compatible incoming webhook (docs/nudges.md). Not an alert: nothing
here goes through Alertmanager or the on-call routing.

It reads ``sla.events`` in its own consumer group and keeps what it did per clock and state in
its own compacted topic, the ledger, read back at start. An event's offset is committed only
once every nudge up to it was delivered (2xx), refused for good (a 4xx other than 429),
held for a digest, or dropped, and the ledger record saying so was written: at least once.
The decisions and the words are services/nudge_book.py and services/nudge_rules.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, TopicAlreadyExistsError
from prometheus_client import CollectorRegistry, Counter, start_http_server

from ascolto.clients import kafka_options
from ascolto.config import KafkaSettings, Settings
from ascolto.secret import Secret
from schemas import DecodeError, codec
from services.nudge_book import Entry, NudgeBook, Step
from services.nudge_rules import BrandRoute, Nudge, NudgeConfig, digest, load_config, message

log = logging.getLogger("ascolto.nudger")

RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)  # then the batch is read again, from its commit
MAX_RETRY_AFTER_S = 30.0
TIMEOUT_S = 10.0
PRUNE_EVERY_MS = 60_000  # the ledger's old settled entries leave memory this often


class Undelivered(Exception):
    """A webhook kept failing (5xx, 429, no answer) through every retry."""


class NudgerMetrics:
    """The nudger's series, on a registry handed in. ``brand`` is a configured brand's name
    (bounded by the nudges file); each starts at 0, so the first refusal is an increase."""

    def __init__(self, registry: CollectorRegistry, brands: Iterable[str] = ()) -> None:
        self.outcomes = Counter(
            "ascolto_nudges",
            "Nudges by state (warning, breached) and outcome: sent, digest (sent in one), "
            "held (for a digest), dropped (answered or retracted first), refused (a 4xx).",
            ["state", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "ascolto_nudge_webhook_retries",
            "Webhook calls retried: a 5xx, a 429 or no answer.",
            ["brand"],
            registry=registry,
        )
        self.refusals = Counter(
            "ascolto_nudge_webhook_refusals",
            "Webhook calls refused for good: a 4xx other than 429 (a revoked or wrong webhook).",
            ["brand"],
            registry=registry,
        )
        for brand in brands:
            self.retries.labels(brand)
            self.refusals.labels(brand)


class Webhook:
    """POSTs a JSON body to a brand's webhook: 2xx is delivered, another 4xx than 429 is
    refused for good (logged without the URL, counted), the rest is retried with backoff."""

    def __init__(self, metrics: NudgerMetrics, sleep: Callable[[float], None] = time.sleep) -> None:
        self.metrics = metrics
        self.sleep = sleep

    def deliver(self, url: Secret, body: dict[str, Any], brand: str) -> bool:
        """True when delivered, False when refused; raises Undelivered."""
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
            try:
                self._post(url, body)
                return True
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code != 429:
                    log.error("%s: the webhook refused a nudge: HTTP %d", brand, exc.code)
                    self.metrics.refusals.labels(brand).inc()
                    return False
                wait = _retry_after(exc, delay)
                why = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                wait, why = delay, f"no answer ({type(reason).__name__}: {reason})"
            if wait is None:
                raise Undelivered(f"{brand}: the webhook failed {attempt + 1} times ({why})")
            log.warning("%s: webhook failed (%s), retrying in %.1fs", brand, why, wait)
            self.metrics.retries.labels(brand).inc()
            self.sleep(wait)
        raise AssertionError("unreachable")

    @staticmethod
    def _post(url: Secret, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            url.reveal(),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            response.read()


def _retry_after(exc: urllib.error.HTTPError, delay: float | None) -> float | None:
    if delay is None:
        return None
    header = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return min(max(float(header), delay), MAX_RETRY_AFTER_S) if header else delay
    except ValueError:
        return delay


def ledger_configs(k: KafkaSettings) -> dict[str, str]:
    """The ledger topic's configs (the Strimzi example's KafkaTopic has the same)."""
    return {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(k.retention.topics_ms),
        "min.insync.replicas": str(k.min_insync_replicas),
    }


class Ledger:
    """The nudger's compacted topic: key ``<subject>:<target>:<state>``, value an Entry."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.kafka.topic(settings.support.nudges.ledger_topic)
        self.producer: KafkaProducer | None = None

    def ensure(self) -> None:
        """Create the ledger when it is missing: the nudger's principal may create this one
        topic (ascolto/acls.py)."""
        k = self.settings.kafka
        admin = KafkaAdminClient(**kafka_options(k), client_id="ascolto-nudger")
        try:
            if self.topic not in admin.list_topics():
                topic = NewTopic(
                    self.topic, k.partitions, k.replication_factor, topic_configs=ledger_configs(k)
                )
                admin.create_topics([topic])
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    def read(self) -> Iterable[tuple[str, Entry | None]]:
        """Every record, from the beginning to the end as it is now."""
        consumer = KafkaConsumer(**kafka_options(self.settings.kafka), enable_auto_commit=False)
        try:
            tps = [TopicPartition(self.topic, p) for p in _partitions(consumer, self.topic)]
            consumer.assign(tps)
            consumer.seek_to_beginning()
            ends = consumer.end_offsets(tps)
            while any(consumer.position(tp) < ends[tp] for tp in tps):
                for records in consumer.poll(timeout_ms=1000).values():
                    for r in records:
                        yield r.key.decode(), None if r.value is None else Entry.decode(r.value)
        finally:
            consumer.close()

    def write(self, key: str, entry: Entry) -> None:
        if self.producer is None:
            self.producer = KafkaProducer(**kafka_options(self.settings.kafka), acks="all")
        self.producer.send(self.topic, key=key.encode(), value=entry.encode())

    def flush(self) -> None:
        if self.producer is not None:
            self.producer.flush()

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close()


def _partitions(consumer: KafkaConsumer, topic: str, timeout_s: float = 30) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while not (found := consumer.partitions_for_topic(topic)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions after {timeout_s:.0f}s")
        consumer.topics()  # asks the broker for fresh metadata
        time.sleep(0.2)
    return set(found)


class Nudger:
    """The loop: read a batch of SLA events, act on each, send the digests that are due,
    write the outcomes to the ledger, then commit."""

    def __init__(
        self,
        settings: Settings,
        config: NudgeConfig,
        metrics: NudgerMetrics,
    ) -> None:
        self.settings = settings
        self.config = config
        self.metrics = metrics
        self.book = NudgeBook(config, settings.support.nudges.max_age_s * 1000)
        self.next_prune_ms = 0
        self.ledger = Ledger(settings)
        self.webhook = Webhook(metrics)
        self.consumer: KafkaConsumer | None = None
        self.stopping = False

    def link(self, conversation_id: str) -> str:
        e = self.settings.elastic
        return self.settings.support.conversation_link(conversation_id, e.url, e.contacts)

    def start(self) -> None:
        self.ledger.ensure()
        for key, entry in self.ledger.read():
            self.book.restore(key, entry)
        held = sum(e.status == "held" for e in self.book.entries.values())
        log.info(
            "%s; ledger: %d entries, %d held", self.config.summary(), len(self.book.entries), held
        )
        self.consumer = KafkaConsumer(
            self.settings.kafka.sla_events,
            **kafka_options(self.settings.kafka),
            group_id=self.settings.support.nudges.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            allow_auto_create_topics=False,  # one made here would have the broker's partitions
        )

    def run(self) -> None:
        while not self.stopping:
            self.step()

    def step(self) -> None:
        assert self.consumer is not None
        batch = self.consumer.poll(timeout_ms=500, max_records=500)
        try:
            for tp in sorted(batch, key=lambda tp: tp.partition):
                for record in batch[tp]:
                    self._event(record)
            self._digests()
        except Undelivered as exc:
            log.error("%s: reading again from the last commit", exc)
            self.ledger.flush()
            self._rewind()
            return
        self.ledger.flush()
        if batch:
            try:
                self.consumer.commit()
            except CommitFailedError:  # a rebalance meanwhile: the ledger stops the repeats
                log.warning("offsets not committed (a rebalance): those events come again")

    def _event(self, r: ConsumerRecord) -> None:
        try:
            record = None if r.value is None else codec().decode(r.value, expect="SlaEvent")
        except DecodeError as exc:
            log.warning("skipping sla.events %d:%d: %s", r.partition, r.offset, exc)
            return
        now = self._now()
        for step in self.book.decide(r.key.decode(), record, now):
            self._do(step, now)

    def _do(self, step: Step, now: int) -> None:
        nudge = step.nudge
        if step.action == "drop" or nudge is None:
            self._settle(step.key, Entry("dropped", now), self._state(step.key), "dropped")
            return
        if step.action == "hold":
            self._settle(step.key, Entry("held", now, nudge), nudge.state, "held")
            return
        route = self.config.route(nudge.brand, nudge.state)
        assert route is not None
        body = message(nudge, now, route.zone, self.link)
        if self.webhook.deliver(route.webhook, body, route.brand):
            self._settle(step.key, Entry("sent", now), nudge.state, "sent")
        else:
            self._settle(step.key, Entry("failed", now), nudge.state, "refused")

    def _digests(self) -> None:
        now = self._now()
        if now >= self.next_prune_ms:
            self.book.prune(now)
            self.next_prune_ms = now + PRUNE_EVERY_MS
        for brand_key, nudges in self.book.digests(now).items():
            route = self.config.routes.get(brand_key)
            if route is None:  # no longer configured: nowhere to send them
                entry, outcome = Entry("dropped", now), "dropped"
            elif self._send_digest(route, nudges, now):
                entry, outcome = Entry("sent", now), "digest"
            else:
                entry, outcome = Entry("failed", now), "refused"
            for n in nudges:
                self._settle(n.key, entry, n.state, outcome)

    def _send_digest(self, route: BrandRoute, nudges: list[Nudge], now: int) -> bool:
        body = digest(route.brand, nudges, now, route.zone, self.link)
        log.info("%s: quiet hours over, one digest of %d nudges", route.brand, len(nudges))
        return self.webhook.deliver(route.webhook, body, route.brand)

    def _settle(self, key: str, entry: Entry, state: str, outcome: str) -> None:
        self.ledger.write(key, entry)
        self.book.settle(key, entry)
        self.metrics.outcomes.labels(state, outcome).inc()

    @staticmethod
    def _state(key: str) -> str:
        return key.rpartition(":")[2]

    def _now(self) -> int:
        return int(time.time() * 1000)

    def _rewind(self) -> None:
        """Every assigned partition back to its committed offset; then a pause, so that a
        webhook that is down is not called in a tight loop."""
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            committed = self.consumer.committed(tp)
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)
        time.sleep(RETRY_DELAYS_S[-1])

    def stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self.stopping = True

    def close(self) -> None:
        self.ledger.flush()
        self.ledger.close()
        if self.consumer is not None:
            self.consumer.close(autocommit=False)


def run(settings: Settings, metrics_port: int = 0, host: str = "127.0.0.1") -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # its INFO is every connection
    config = load_config(settings.support.nudges.path)
    registry = CollectorRegistry()
    brands = [route.brand for route in config.routes.values()]
    nudger = Nudger(settings, config, NudgerMetrics(registry, brands))
    if metrics_port:
        start_http_server(metrics_port, addr=host, registry=registry)
    signal.signal(signal.SIGTERM, nudger.stop)
    signal.signal(signal.SIGINT, nudger.stop)
    nudger.start()
    try:
        nudger.run()
    finally:
        nudger.close()


def _run(settings: Settings, args: argparse.Namespace) -> int:
    run(settings, args.metrics_port, args.host)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "nudger",
        help="push conversations at risk and late to each brand's support team (docs/nudges.md)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of /metrics")
    parser.add_argument(
        "--metrics-port", type=int, default=0, help="serve /metrics on this port (0: none)"
    )
    parser.set_defaults(func=_run)
