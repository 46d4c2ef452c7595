"""Publishes contacts to Kafka with kafka-python, bridged to asyncio.

kafka-python's producer batches in its own I/O thread; a request waits for every one of its
contacts to be acknowledged by all in-sync replicas (acks=all) before answering 202.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer

from ascolto.clients import kafka_options
from ascolto.config import KafkaSettings
from schemas import codec
from schemas.registry import register

# ascolto.validation bounds a contact well below this (tests/unit/test_validation.py).
PRODUCER_MAX_REQUEST_SIZE = 8 * 1024 * 1024


def routing_key(contact: dict[str, Any]) -> bytes:
    """One customer of one brand stays on one partition, so a conversation keeps its order."""
    handle = contact["customer_handle"].strip().lstrip("@").casefold()
    return f"{contact['brand'].casefold()}\x1f{handle}".encode()


class Publisher:
    def __init__(self, settings: KafkaSettings) -> None:
        self._topic = settings.raw
        self._codec = codec()
        self._producer = KafkaProducer(
            **kafka_options(settings),
            client_id="ascolto-ingest",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            batch_size=512 * 1024,
            max_request_size=PRODUCER_MAX_REQUEST_SIZE,
            # Retries bounded by time (delivery_timeout_ms, 120 s), not by count: while a
            # leader fails over, a broker answers NotLeaderForPartition every 100 ms backoff
            # (8 of 10 retries gone in 3 s in tests/integration/test_cluster.py).
            retries=float("inf"),
            # send() blocks the event loop while it waits for metadata or buffer space
            max_block_ms=10_000,
        )
        try:  # a worker that meets a contact of this version can then find its schema
            register(self._producer, settings.schemas, self._codec.canonical(["Contact"]))
        except Exception:
            self._producer.close(timeout=0)
            raise

    async def metadata_round_trip(self) -> None:
        """Ask a broker for metadata over the producer's own connections (its security
        settings included); raise the error if the request failed. kafka-python has no public
        call for it: this is what its ``partitions_for`` does when metadata is missing."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()

        def settle(*_: Any) -> None:
            if not answered.done():
                answered.set_result(None)

        future = self._producer._metadata.request_update()
        future.add_both(lambda *_: loop.call_soon_threadsafe(settle))
        self._producer._sender.wakeup()
        await answered
        if future.failed():
            raise future.exception

    async def publish(self, contacts: Sequence[dict[str, Any]]) -> None:
        """Send all; return when Kafka acknowledged all, raise if any failed."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        pending = len(contacts)
        errors: list[BaseException] = []

        def settle(error: BaseException | None) -> None:
            nonlocal pending
            pending -= 1
            if error is not None:
                errors.append(error)
            if pending == 0 and not done.done():
                if errors:
                    done.set_exception(errors[0])
                else:
                    done.set_result(None)

        def ok(_: Any) -> None:
            loop.call_soon_threadsafe(settle, None)

        def failed(exc: BaseException) -> None:
            loop.call_soon_threadsafe(settle, exc)

        if not contacts:
            return
        encode = self._codec.encode
        for contact in contacts:
            future = self._producer.send(
                self._topic, key=routing_key(contact), value=encode("Contact", contact)
            )
            future.add_callback(ok)
            future.add_errback(failed)
        await done

    def close(self) -> None:
        self._producer.flush(timeout=10)
        self._producer.close(timeout=10)
