"""How long Kafka may hold a fetch of faust's consumer that finds nothing new.

aiokafka keeps one fetch request in flight per broker, and leaves out of it every partition
whose fetched records are still waiting to be consumed. While the stages work through the
last fetch's records of ``contacts.raw`` and ``contacts.keyed``, the next request can ask only
for partitions where nothing new comes (``customers``, the directory's changelog). faust lets
the broker hold such a request for 1.5 s (``fetch_max_wait_ms=1500``, written into its
aiokafka driver), and until it answers, no new contact is fetched. On live traffic at ~680
contacts/s the route stage got nothing for 1-1.7 s every ~3 s, with the worker idle, then
1,100 contacts at once.

``install`` sets the wait of the consumer faust creates; a short wait costs an empty fetch
now and then when there is no traffic at all.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_faust_create = AIOKafkaConsumerThread._create_worker_consumer


def install(fetch_max_wait_ms: int) -> None:
    """From now on, faust's worker consumers ask the broker to wait at most this long."""

    def create(self: AIOKafkaConsumerThread, transport: Any) -> Any:
        consumer = _faust_create(self, transport)
        # aiokafka hands this to its fetcher when the consumer starts
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise RuntimeError(
                "aiokafka's consumer no longer keeps _fetch_max_wait_ms: review streams.fetch_wait"
            )
        consumer._fetch_max_wait_ms = fetch_max_wait_ms
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]


def uninstall() -> None:
    AIOKafkaConsumerThread._create_worker_consumer = _faust_create  # type: ignore[method-assign]
