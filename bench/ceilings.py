"""What the infrastructure alone can do on this machine, with the pipeline's own data.

- Elasticsearch: the contacts documents the pipeline wrote in the end-to-end run, read back
  and bulk-indexed straight from Python into a throwaway index with the same settings and
  mappings, same ``_id`` and external version: pre-serialised NDJSON, several bulk requests
  in flight, refresh off during the load and one refresh at the end (counted: the documents
  are searchable when the clock stops).
- Kafka produce: kafka-python with the ingest publisher's settings, pre-encoded Avro payloads.
- Kafka consume -> produce: aiokafka (Faust's client) with the worker's producer settings,
  batched ``getmany`` and ``send``, offsets committed every second, no processing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from kafka import KafkaProducer

from ascolto.clients import elasticsearch_options, kafka_options
from ascolto.config import ElasticSettings, KafkaSettings
from ascolto.search import TEMPLATE_DIR
from ascolto.validation import InvalidContact, validate
from schemas import codec
from services.ingest.publisher import routing_key
from streams.sinks.elastic import BULK_RESPONSE_FIELDS, async_client

ES_CHUNK = 5000  # documents per bulk request (see --es-sweep)
ES_WORKERS = 3  # bulk requests in flight


def valid_contacts(contacts: Iterable[dict[str, Any]], now_ms: int) -> Iterator[dict[str, Any]]:
    """The contacts ingest accepts, as it publishes them (exact duplicates kept)."""
    for raw in contacts:
        try:
            yield validate(dict(raw), received_at=now_ms)
        except InvalidContact:
            continue


ES_MAX_DOCS = 200_000  # a rate needs no more; a soak's million would hold gigabytes here


def read_docs(
    es: Elasticsearch, index: str, limit: int = ES_MAX_DOCS
) -> list[tuple[str, bytes, int]]:
    """(id, serialised source, revision) of the documents the pipeline wrote to ``index``."""
    hits = scan(es, index=index, size=5000, query={"query": {"match_all": {}}})
    return [
        (hit["_id"], orjson.dumps(hit["_source"]), int(hit["_source"].get("revision") or 0))
        for hit in islice(hits, limit)
    ]


def index_body(refresh_interval: str) -> dict[str, Any]:
    body = json.loads((TEMPLATE_DIR / "contacts.json").read_text())
    body.pop("_comment", None)
    body["settings"]["refresh_interval"] = refresh_interval
    return body


# --- Elasticsearch -----------------------------------------------------------------------------


def _bulk_bodies(index: str, docs: list[tuple[str, bytes, int]], chunk: int) -> Iterable[bytes]:
    for start in range(0, len(docs), chunk):
        lines = []
        for doc_id, source, version in docs[start : start + chunk]:
            meta = {"_index": index, "_id": doc_id, "version": version,
                    "version_type": "external_gte"}  # fmt: skip
            lines.append(orjson.dumps({"index": meta}))
            lines.append(source)
        lines.append(b"")
        yield b"\n".join(lines)


async def _bulk_load(
    e: ElasticSettings, index: str, docs: list[tuple[str, bytes, int]], chunk: int, workers: int
) -> int:
    """Index every document with ``workers`` bulk requests in flight; return item errors."""
    errors = 0
    bodies = iter(_bulk_bodies(index, docs, chunk))
    # the worker's client and response filter: the ceiling gets every trick the pipeline has
    es = async_client(e, request_timeout=120, max_retries=3, retry_on_timeout=True)

    async def lane() -> None:
        nonlocal errors
        for body in bodies:
            resp = await es.bulk(
                operations=body,  # type: ignore[arg-type]
                filter_path=BULK_RESPONSE_FIELDS,
            )
            if resp["errors"]:
                errors += sum(
                    1 for item in resp["items"] if next(iter(item.values()))["status"] >= 300
                )

    try:
        await asyncio.gather(*(lane() for _ in range(workers)))
    finally:
        await es.close()
    return errors


def es_bulk_ceiling(
    e: ElasticSettings,
    index: str,
    docs: list[tuple[str, bytes, int]],
    *,
    chunk: int = ES_CHUNK,
    workers: int = ES_WORKERS,
) -> dict[str, Any]:
    """Documents/s into a throwaway index with the contacts template, until searchable."""
    es = Elasticsearch(**elasticsearch_options(e), request_timeout=120)
    body = index_body("-1")
    es.indices.create(index=index, settings=body["settings"], mappings=body["mappings"])
    try:
        es.cluster.health(index=index, wait_for_status="yellow", timeout="30s")
        started = time.monotonic()
        errors = asyncio.run(_bulk_load(e, index, docs, chunk, workers))
        loaded = time.monotonic()
        es.indices.put_settings(index=index, settings={"index": {"refresh_interval": "1s"}})
        es.indices.refresh(index=index)
        searchable = time.monotonic()
        count = es.count(index=index)["count"]
    finally:
        es.options(ignore_status=404).indices.delete(index=index)
        es.close()
    if count != len(docs) or errors:
        raise RuntimeError(f"ES ceiling: {count} of {len(docs)} searchable, {errors} errors")
    return {
        "docs": len(docs),
        "chunk": chunk,
        "workers": workers,
        "bulk_s": round(loaded - started, 3),
        "refresh_s": round(searchable - loaded, 3),
        "per_s": len(docs) / (searchable - started),
    }


def es_sweep(
    e: ElasticSettings, index: str, docs: list[tuple[str, bytes, int]]
) -> list[dict[str, Any]]:
    """Try chunk sizes and parallelism on the same documents (``--es-sweep``)."""
    results = []
    for chunk in (500, 1000, 2000, 5000):
        for workers in (1, 2, 3, 4):
            r = es_bulk_ceiling(e, f"{index}-{chunk}-{workers}", docs, chunk=chunk, workers=workers)
            results.append(r)
    return sorted(results, key=lambda r: -r["per_s"])


# --- Kafka -------------------------------------------------------------------------------------


def kafka_payloads(valid: Iterable[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """(key, value) as the ingest publisher writes them to contacts.raw."""
    encode = codec().encode
    return [(routing_key(c), encode("Contact", c)) for c in valid]


def kafka_produce_ceiling(
    k: KafkaSettings, topic: str, payloads: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    producer = KafkaProducer(
        **kafka_options(k),
        client_id="bench-produce",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
        retries=10,
    )
    try:
        producer.partitions_for(topic)  # metadata first: not part of the rate
        started = time.monotonic()
        for key, value in payloads:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=300)
        seconds = time.monotonic() - started
    finally:
        producer.close(timeout=10)
    return {
        "messages": len(payloads),
        "seconds": round(seconds, 3),
        "per_s": len(payloads) / seconds,
    }


async def _consume_produce(k: KafkaSettings, src: str, dst: str, n: int, group: str) -> float:
    consumer = AIOKafkaConsumer(
        src,
        **kafka_options(k),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        **kafka_options(k), acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await consumer.start()
    await producer.start()
    try:
        seen = 0
        started = 0.0
        last_commit = time.monotonic()
        while seen < n:
            batches = await consumer.getmany(timeout_ms=200)
            if batches and not started:
                started = time.monotonic()
            for tp, records in batches.items():
                for r in records:
                    await producer.send(dst, value=r.value, key=r.key, partition=tp.partition)
                seen += len(records)
            if time.monotonic() - last_commit > 1.0:
                await consumer.commit()
                last_commit = time.monotonic()
        await producer.flush()
        await consumer.commit()
        return time.monotonic() - started
    finally:
        await producer.stop()
        await consumer.stop()


def kafka_consume_produce_ceiling(
    k: KafkaSettings, src: str, dst: str, n: int, group: str
) -> dict[str, Any]:
    """Messages/s copied from ``src`` to ``dst`` (``src`` holds ``n`` messages already).

    The clock starts at the first fetched batch: joining the group is not part of the rate.
    """
    seconds = asyncio.run(_consume_produce(k, src, dst, n, group))
    return {"messages": n, "seconds": round(seconds, 3), "per_s": n / seconds}
