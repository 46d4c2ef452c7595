"""The worker's SLA policy, reloaded without a restart.

Every ASCOLTO_SLA_POLICY_RELOAD_S the worker looks at the policy file (its modification time,
then its content). A changed, valid file becomes a new version of the PolicyBook
(streams/sla/policy_book.py), in force from that instant: clocks that start later are judged
by it, clocks already running keep theirs. An invalid file is refused: its problems go to the
log, one line each, `ascolto_sla_policy_refused_total` counts it, and the version in force
stays.

The book's history lives in a compacted topic of the worker group, `<app id>-sla-policy-
history` (ascolto.topics): a worker appends each version it notices (its instant, the file's
text) and reads the others' on every check, and a starting worker reads it all back, so a
restart judges running clocks by the version they started under, not by today's file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from ascolto.clients import kafka_options
from ascolto.config import KafkaSettings
from streams.sla.policy import Policy, PolicyError
from streams.sla.policy_book import PolicyBook, Version, digest, version_of

log = logging.getLogger("ascolto.worker")

# Every version goes to one partition, so every worker reads them in the order written.
HISTORY_PARTITION = 0
READ_TIMEOUT_S = 30.0


class PolicyHistory:
    """The versions topic, read and written with kafka-python (the checks run in a thread)."""

    def __init__(self, k: KafkaSettings, topic: str) -> None:
        self.topic = TopicPartition(topic, HISTORY_PARTITION)
        options = kafka_options(k)
        self.consumer = KafkaConsumer(
            **options, enable_auto_commit=False, client_id="ascolto-sla-policy"
        )
        self.consumer.assign([self.topic])
        self.consumer.seek_to_beginning(self.topic)
        self.producer = KafkaProducer(**options, acks="all", client_id="ascolto-sla-policy")

    def read_new(self) -> list[Version]:
        """The versions written since the last read (all of them, the first time)."""
        end = self.consumer.end_offsets([self.topic])[self.topic]
        found: list[Version] = []
        give_up = time.monotonic() + READ_TIMEOUT_S
        while self.consumer.position(self.topic) < end:
            if time.monotonic() > give_up:  # the broker went away: the next check reads on
                raise TimeoutError(f"{self.topic.topic}: not read to offset {end}")
            for records in self.consumer.poll(timeout_ms=1000).values():
                found += [v for r in records if (v := _version(r.value)) is not None]
        return found

    def append(self, since_ms: int, text: str, source: str) -> None:
        record = {"since_ms": since_ms, "digest": digest(text), "source": source, "text": text}
        key = f"{since_ms}:{record['digest']}".encode()
        value = json.dumps(record).encode()
        self.producer.send(self.topic.topic, value, key, partition=HISTORY_PARTITION).get(30)


def _version(value: bytes) -> Version | None:
    try:
        record = json.loads(value)
        return version_of(int(record["since_ms"]), record["text"], record["source"])
    except (ValueError, KeyError, TypeError) as exc:  # PolicyError is a ValueError
        log.warning("sla policy history: a version not read back, skipped: %s", exc)
        return None


class PolicyReload:
    """The policies the thread stage judges by (``at``), kept current by ``tick``."""

    def __init__(
        self,
        path: Path,
        book: PolicyBook,
        history: PolicyHistory | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path, self.book, self.history, self.clock = path, book, history, clock
        self.seen: tuple[int, str] | None = None  # the file's (mtime_ns, digest) last looked at
        self.refused = Counter(
            "ascolto_sla_policy_refused",
            "Changed SLA policy files refused as invalid: the version in force stayed.",
            registry=None,  # registered with the worker's (register)
        )
        self.since = Gauge(
            "ascolto_sla_policy_since_seconds",
            "When the newest SLA policy version took effect (epoch seconds).",
            registry=None,
        )
        self.since.set(book.latest.since_ms / 1000)

    def register(self, registry: CollectorRegistry) -> None:
        registry.register(self.refused)
        registry.register(self.since)

    @classmethod
    def start(
        cls,
        path: Path,
        history: PolicyHistory | None,
        clock: Callable[[], float] = time.time,
    ) -> PolicyReload:
        """The history read back, then the file: a changed file is a new version from now.
        Raises PolicyError when the file is invalid and no earlier version exists."""
        versions = history.read_new() if history is not None else []
        if not versions:
            text = _read(path)
            now_ms = int(clock() * 1000)
            book = PolicyBook((version_of(now_ms, text, str(path)),))
            if history is not None:
                history.append(now_ms, text, str(path))
            versions = list(book.versions)
        reload = cls(path, PolicyBook.of(versions), history, clock)
        reload.check()
        return reload

    def at(self, started_at_ms: int) -> Policy:
        return self.book.at(started_at_ms)

    async def tick(self) -> None:
        """The check in a thread (it reads a file and Kafka); it never raises: a failure is
        logged and the next tick tries again."""
        try:
            await asyncio.to_thread(self.check)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sla policy: the reload check failed; the version in force stays")

    def check(self) -> None:
        if self.history is not None:
            for version in self.history.read_new():
                self._adopt(version)
        try:
            modified = os.stat(self.path).st_mtime_ns
            if self.seen is not None and self.seen[0] == modified:
                return
            text = _read(self.path)
        except PolicyError as exc:
            self._refuse(exc)
            return
        except OSError as exc:
            self._refuse(PolicyError(str(self.path), [f"{self.path}: cannot read: {exc}"]))
            return
        previous, self.seen = self.seen, (modified, digest(text))
        if self.seen[1] in (self.book.latest.digest, previous and previous[1]):
            return  # touched, not changed; or already refused, or another worker's version
        now_ms = int(self.clock() * 1000)
        try:
            version = version_of(now_ms, text, str(self.path))
        except PolicyError as exc:
            self._refuse(exc)
            return
        if self.history is not None:
            self.history.append(now_ms, text, str(self.path))
        self._adopt(version)
        log.info("sla policy: %s changed; it applies to clocks started from now", self.path)

    def _adopt(self, version: Version) -> None:
        self.book = self.book.with_version(version)
        self.since.set(self.book.latest.since_ms / 1000)

    def _refuse(self, exc: PolicyError) -> None:
        self.refused.inc()
        for problem in exc.problems:
            log.error("sla policy refused, the version in force stays: %s", problem)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), [f"{path}: cannot read: {exc.strerror or exc}"]) from exc
