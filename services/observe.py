"""Looking at what the pipeline produced: Elasticsearch counts, topic contents, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, TopicPartition

from ascolto.config import Settings
from schemas import codec


def refresh(es: Elasticsearch, alias: str) -> None:
    es.indices.refresh(index=alias)


def count_ids(es: Elasticsearch, alias: str, ids: Collection[str]) -> int:
    """How many of these document ids are searchable now."""
    found = 0
    id_list = list(ids)
    for start in range(0, len(id_list), 5000):
        chunk = id_list[start : start + 5000]
        resp = es.count(index=alias, query={"ids": {"values": chunk}})
        found += resp["count"]
    return found


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.5)


def wait_searchable(
    settings: Settings, es: Elasticsearch, ids: Collection[str], timeout_s: float = 120
) -> None:
    """Return once every id is searchable in the contacts alias (with its refresh)."""
    alias = settings.elastic.contacts
    wait_until(lambda: count_ids(es, alias, ids) >= len(ids), timeout_s, f"{len(ids)} contacts")


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def read_topic(
    settings: Settings, topic: str, since: dict[int, int] | None = None, timeout_s: float = 10
) -> list[tuple[bytes | None, dict[str, Any] | None]]:
    """Every (key, decoded value) from ``since`` offsets (default: the beginning) to the end."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=int(timeout_s * 1000),
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, (since or {}).get(tp.partition, 0))
        out: list[tuple[bytes | None, dict[str, Any] | None]] = []
        remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.offset < ends[tp]:
                        out.append((r.key, None if r.value is None else codec().decode(r.value)))
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        consumer.close()
