"""ElasticSink's bulk requests: bounded in bytes, and a busy cluster's refusal retried."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, ConnectionError
from prometheus_client import CollectorRegistry

from streams.metrics import WorkerMetrics
from streams.sinks.elastic import Action, ElasticSink
from streams.sinks.placement import Placed


class RecordingElasticsearch:
    """AsyncElasticsearch.bulk as the sink calls it: records each body, answers 201s; the
    first `refuse` calls answer the whole request with 503, as a busy cluster does."""

    def __init__(self, refuse: int = 0) -> None:
        self.bodies: list[bytes] = []
        self.refuse = refuse

    async def bulk(self, operations: bytes, filter_path: str) -> dict[str, Any]:
        if self.refuse:
            self.refuse -= 1
            meta = ApiResponseMeta(503, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "es", 9200))
            raise ApiError("unavailable", meta, {})
        self.bodies.append(operations)
        lines = operations.count(b'{"index"')
        return {"errors": False, "items": [{"index": {"status": 201}}] * lines}


def write(es: RecordingElasticsearch, docs: int, max_bytes: int) -> None:
    metrics = WorkerMetrics.create(CollectorRegistry(), ("contacts",))
    sink = ElasticSink(es, metrics, max_bytes=max_bytes, base_backoff_s=0.001)  # type: ignore[arg-type]
    actions = [Action(f"id-{i}", {"body": "x" * 1000}, 1) for i in range(docs)]
    assert asyncio.run(sink.write("contacts", actions)) == []


def test_requests_stay_under_the_byte_limit_and_carry_every_document_once() -> None:
    es = RecordingElasticsearch()
    write(es, docs=10, max_bytes=3500)
    assert len(es.bodies) > 1
    assert all(len(body) <= 3500 for body in es.bodies)
    ids = [line for body in es.bodies for line in body.split(b"\n") if b'"_id"' in line]
    assert len(ids) == len(set(ids)) == 10


def test_a_whole_request_refused_by_a_busy_cluster_is_retried() -> None:
    es = RecordingElasticsearch(refuse=2)
    write(es, docs=3, max_bytes=1 << 20)
    assert len(es.bodies) == 1 and es.bodies[0].count(b'"_id"') == 3


class FlakyPlacement:
    """A placement whose lookups meet an unreachable cluster `fail` times, then place every
    document in one concrete index."""

    def __init__(self, fail: int) -> None:
        self.fail = fail

    async def place(self, writes: Mapping[str, Sequence[Action]]) -> Placed:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("connection refused")
        return Placed(
            {
                alias: [replace(a, index=f"{alias}-2026.12-000001") for a in actions]
                for alias, actions in writes.items()
            },  # fmt: skip
            {alias: [] for alias in writes},
        )


def test_placement_lookups_meeting_an_outage_are_retried_and_counted() -> None:
    es = RecordingElasticsearch()
    metrics = WorkerMetrics.create(CollectorRegistry(), ("contacts",))
    sink = ElasticSink(es, metrics, base_backoff_s=0.001, placement=FlakyPlacement(fail=3))  # type: ignore[arg-type]
    actions = [Action(f"id-{i}", {"body": "x"}, 1) for i in range(3)]
    assert asyncio.run(sink.write("contacts", actions)) == []
    assert len(es.bodies) == 1 and es.bodies[0].count(b'"_index":"contacts-2026.12-000001"') == 3
    assert metrics.bulk_retries.labels("contacts")._value.get() == 3
