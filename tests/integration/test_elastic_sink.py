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
def index(base_settings: Settings) -> Iterator[str]:
    name = f"ascolto-test-sink-{uuid.uuid4().hex[:8]}"
    es = client(base_settings.elastic)
    es.indices.create(
        index=name, mappings={"dynamic": "strict", "properties": {"n": {"type": "integer"}}}
    )
    yield name
    es.options(ignore_status=404).indices.delete(index=name)


def write(
    settings: Settings, index: str, metrics: WorkerMetrics, actions: list[Action]
) -> list[Failed]:
    async def run() -> list[Failed]:
        es = async_client(settings.elastic.url, request_timeout=30)
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
