"""The schema registry on Kafka itself: the compacted topic ``schemas``, keyed by a writer
schema's fingerprint (the hex of its 8 bytes as they appear in a message), valued by the
schema's canonical JSON (docs/schemas.md).

Every process registers the schemas it writes before it writes them; a codec that meets a
fingerprint it does not know (a newer process wrote it, during a rolling upgrade) looks it up
here, once: the codec keeps the resolved pair.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from ascolto.clients import kafka_options
from ascolto.config import KafkaSettings
from schemas import codec

log = logging.getLogger("ascolto.schemas")

REGISTER_TIMEOUT_S = 30.0
CATCH_UP_TIMEOUT_S = 10.0
# A poison message's fingerprint is unknown everywhere: read the topic again at most this often.
MIN_REFRESH_S = 1.0


def register(producer: KafkaProducer, topic: str, schemas: Mapping[str, str]) -> None:
    """Write ``schemas`` (fingerprint hex -> canonical JSON) and wait for Kafka's
    acknowledgement: a message of a schema is only written once its schema can be found."""
    futures = [
        producer.send(topic, key=fp.encode(), value=text.encode()) for fp, text in schemas.items()
    ]
    for future in futures:
        future.get(timeout=REGISTER_TIMEOUT_S)


def register_once(k: KafkaSettings, schemas: Mapping[str, str], client_id: str) -> None:
    """``register`` with a producer of its own, for a process whose producer is asynchronous."""
    producer = KafkaProducer(**kafka_options(k), client_id=client_id, acks="all")
    try:
        register(producer, k.schemas, schemas)
    finally:
        producer.close(timeout=10)
    log.info("registered %d writer schemas in %s", len(schemas), k.schemas)


class KafkaSchemaRegistry:
    """The ``schemas`` topic read as a map; a codec's ``SchemaSource``. Blocking: a lookup
    that misses reads the topic's new records (once per new writer schema in a process)."""

    def __init__(
        self,
        settings: KafkaSettings,
        client_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.client_id, self.clock = settings, client_id, clock
        self.known: dict[str, str] = {}
        self._consumer: KafkaConsumer | None = None
        self._refreshed_at = float("-inf")

    def lookup(self, fingerprint: bytes) -> str | None:
        key = fingerprint.hex()
        if key not in self.known and self.clock() - self._refreshed_at >= MIN_REFRESH_S:
            self._refreshed_at = self.clock()
            self.catch_up()
        return self.known.get(key)

    def catch_up(self) -> None:
        """Read the topic up to its end offsets as of now."""
        consumer = self._consumer or self._open()
        partitions = list(consumer.assignment())
        if not partitions:  # no topic yet: nothing registered
            self.close()
            return
        end = consumer.end_offsets(partitions)
        deadline = self.clock() + CATCH_UP_TIMEOUT_S
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if self.clock() > deadline:
                log.warning(
                    "%s: not read to its end in %.0f s", self.settings.schemas, CATCH_UP_TIMEOUT_S
                )
                return
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    self._apply(record.key, record.value)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        if value is None:
            self.known.pop(key.decode(), None)
        else:
            self.known[key.decode()] = value.decode()

    def _open(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            **kafka_options(self.settings), client_id=self.client_id, enable_auto_commit=False
        )
        topic = self.settings.schemas
        ids = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in sorted(ids)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        self._consumer = consumer
        return consumer


def use_registry(k: KafkaSettings, writes: Iterable[str], client_id: str) -> KafkaSchemaRegistry:
    """At a process's start, before it writes: register the schemas of the types it writes,
    and let the process-wide codec look up the writers it does not know."""
    the_codec = codec()
    register_once(k, the_codec.canonical(writes), client_id)
    registry = KafkaSchemaRegistry(k, client_id)
    the_codec.attach(registry)
    return registry
