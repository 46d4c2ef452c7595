"""The Elasticsearch sink against the real server: how each bulk item's outcome is read back
(the sink asks for a filtered response: status and error only)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from ascolto.config import Settings
from ascolto.search import client
from streams.metrics import WorkerMetrics
from streams.sinks.elastic import Action, ElasticSink, Failed, async_client


@pytest.fixture
def indices(base_settings: Settings) -> Iterator[list[str]]:
    """Two throwaway indices where ``n`` must be a number."""
    names = [f"ascolto-test-sink-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    es = client(base_settings.elastic)
    for name in names:
        es.indices.create(
            index=name, mappings={"dynamic": "strict", "properties": {"n": {"type": "integer"}}}
        )
    yield names
    es.options(ignore_status=404).indices.delete(index=",".join(names))


@pytest.fixture
def index(indices: list[str]) -> str:
    return indices[0]


def write(
    settings: Settings, index: str, metrics: WorkerMetrics, actions: list[Action]
) -> list[Failed]:
    async def run() -> list[Failed]:
        es = async_client(settings.elastic, request_timeout=30)
        try:
            return await ElasticSink(es, metrics, base_backoff_s=0.01).write(index, actions)
        finally:
            await es.close()

    return asyncio.run(run())


def test_each_items_outcome_is_read_from_the_filtered_response(
    base_settings: Settings, index: str
) -> None:
    metrics = WorkerMetrics.create(CollectorRegistry(), (index,))
    failed = write(
        base_settings,
        index,
        metrics,
        [
            Action("kept", {"n": 2}, version=2),
            Action("refused", {"n": "not a number"}, version=1),
            Action("never-there", None, version=1),  # 404 on delete: already gone, fine
        ],
    )
    assert [(f.action.doc_id, f.status) for f in failed] == [("refused", 400)]
    assert "parsing_exception" in failed[0].reason
    # an older revision of a document is refused with 409: a replay, counted as done
    assert write(base_settings, index, metrics, [Action("kept", {"n": 1}, version=1)]) == []

    es = client(base_settings.elastic)
    assert es.get(index=index, id="kept")["_source"] == {"n": 2}
    assert not es.exists(index=index, id="refused")
    registry = metrics.registry
    assert registry.get_sample_value("ascolto_documents_indexed_total", {"index": index}) == 3
    errors = {"index": index, "kind": "permanent"}
    assert registry.get_sample_value("ascolto_elasticsearch_bulk_errors_total", errors) == 1


def test_several_indices_in_one_request_each_get_their_own_outcomes(
    base_settings: Settings, indices: list[str]
) -> None:
    first, second = indices
    metrics = WorkerMetrics.create(CollectorRegistry(), (first, second))

    async def run() -> dict[str, list[Failed]]:
        es = async_client(base_settings.elastic, request_timeout=30)
        try:
            sink = ElasticSink(es, metrics, max_actions=2)  # three requests of two items
            return await sink.write_many(
                {
                    first: [Action("a", {"n": 1}, 1), Action("same-id", {"n": 2}, 1)],
                    second: [
                        Action("same-id", {"n": "not a number"}, 1),
                        Action("b", {"n": 3}, 1),
                        Action("b", {"n": 4}, 2),  # same id: only the newest is sent
                        Action("c", {"n": 5}, 1),
                    ],
                }
            )
        finally:
            await es.close()

    failed = asyncio.run(run())
    assert failed[first] == []
    assert [(f.action.doc_id, f.status) for f in failed[second]] == [("same-id", 400)]
    es = client(base_settings.elastic)
    assert es.get(index=first, id="same-id")["_source"] == {"n": 2}
    assert es.get(index=second, id="b")["_source"] == {"n": 4}
    assert not es.exists(index=second, id="same-id")
    indexed = metrics.registry.get_sample_value
    assert indexed("ascolto_documents_indexed_total", {"index": first}) == 2
    assert indexed("ascolto_documents_indexed_total", {"index": second}) == 2
