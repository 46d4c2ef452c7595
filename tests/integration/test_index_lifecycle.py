"""The index lifecycle against the real Elasticsearch (docs/index-lifecycle.md): documents
placed by event-time period behind the read alias, replays and revisions kept in one index,
size rollover with sticky placement, retention, tombstones fanned out, expired periods
refused, and a legacy ``-v1`` index kept readable and written in place."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord
from elasticsearch import Elasticsearch
from prometheus_client import CollectorRegistry

from ascolto import lifecycle
from ascolto.config import ElasticSettings, Settings
from ascolto.index_maintenance import Maintained, maintain, status
from ascolto.search import client, delete_indices, get_docs, setup_indices
from streams.metrics import WorkerMetrics
from streams.sinks.elastic import Action, ElasticSink, Failed, async_client
from streams.sinks.placement import Placement
from streams.stages.index import dead_letters_for

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def contact(contact_id: str, occurred: str, body: str = "hello", revision: int = 1) -> Action:
    doc = {"contact_id": contact_id, "occurred_at": ms(occurred), "body": body}
    return Action(contact_id, doc, revision)


@pytest.fixture
def elastic(base_settings: Settings) -> Iterator[ElasticSettings]:
    settings = dataclasses.replace(
        base_settings.elastic, index_prefix=f"t{uuid.uuid4().hex[:8]}", refresh_interval="-1"
    )
    setup_indices(settings, client(settings), NOW)
    yield settings
    delete_indices(settings)


@pytest.fixture
def es(elastic: ElasticSettings) -> Elasticsearch:
    return client(elastic)


def write(elastic: ElasticSettings, actions: Sequence[Action], now: datetime = NOW) -> list[Failed]:
    async def run() -> list[Failed]:
        es = async_client(elastic, request_timeout=30)
        metrics = WorkerMetrics.create(CollectorRegistry(), (elastic.contacts,))
        try:
            sink = ElasticSink(es, metrics, placement=Placement(es, elastic, now=lambda: now))
            return (await sink.write_many({elastic.contacts: actions}))[elastic.contacts]
        finally:
            await es.close()

    return asyncio.run(run())


def where(es: Elasticsearch, alias: str) -> dict[str, list[str]]:
    """id -> the indices of the read alias holding it."""
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    out: dict[str, list[str]] = {}
    for hit in hits:
        out.setdefault(hit["_id"], []).append(hit["_index"])
    return out


def test_contacts_of_each_month_go_to_its_index_and_read_through_the_alias(
    elastic: ElasticSettings, es: Elasticsearch
) -> None:
    alias = elastic.contacts
    actions = [
        contact("a", "2026-10-31T23:59:59"),
        contact("b", "2026-11-01T00:00:00"),
        contact("c", "2026-12-07T09:00:00"),
    ]
    assert write(elastic, actions) == []
    assert where(es, alias) == {
        "a": [f"{alias}-2026.10-000001"],  # made on first use
        "b": [f"{alias}-2026.11-000001"],
        "c": [f"{alias}-2026.12-000001"],  # made ahead by setup
    }
    assert set(get_docs(es, alias, ["a", "b", "c"])) == {"a", "b", "c"}

    # a replay and a newer revision overwrite in place; an older one loses (409 is success)
    again = [contact("a", "2026-10-31T23:59:59", "newer", 3), contact("a", "2026-10-31T23:59:59")]
    assert write(elastic, again[:1]) == []
    assert write(elastic, again[1:]) == []
    assert where(es, alias)["a"] == [f"{alias}-2026.10-000001"]
    assert get_docs(es, alias, ["a"])["a"]["body"] == "newer"


def test_size_rollover_keeps_each_id_in_the_index_that_has_it(
    elastic: ElasticSettings, es: Elasticsearch
) -> None:
    alias = elastic.contacts
    assert write(elastic, [contact(i, "2026-12-01T10:00:00") for i in ("x", "y")]) == []
    small = dataclasses.replace(
        elastic, lifecycle=dataclasses.replace(elastic.lifecycle, rollover_max_docs=2)
    )
    es.indices.refresh(index=alias)
    done = maintain(small, es, NOW)
    assert done.rolled_over == [f"{alias}-2026.12-000002"]
    assert maintain(elastic, es, NOW).rolled_over == []  # under the default size: nothing

    # not refreshed on purpose: the lookup is realtime
    revised = [contact("x", "2026-12-01T10:00:00", "revised", 2), contact("z", "2026-12-02")]
    assert write(elastic, revised) == []
    found = where(es, alias)
    assert found == {
        "x": [f"{alias}-2026.12-000001"],
        "y": [f"{alias}-2026.12-000001"],
        "z": [f"{alias}-2026.12-000002"],
    }
    assert get_docs(es, alias, ["x"])["x"]["body"] == "revised"
    states = {s.index: s for s in status(elastic, es)}
    assert states[f"{alias}-2026.12-000002"].write
    assert not states[f"{alias}-2026.12-000001"].write


def test_tombstones_reach_the_index_that_holds_the_document(
    elastic: ElasticSettings, es: Elasticsearch
) -> None:
    alias = elastic.contacts
    write(elastic, [contact("old", "2026-09-15T00:00:00"), contact("new", "2026-12-03T00:00:00")])
    assert write(elastic, [Action("old", None, 5), Action("new", None, 5)]) == []
    assert where(es, alias) == {}
    # an erased id re-published at an older revision stays deleted
    assert write(elastic, [contact("old", "2026-09-15T00:00:00", revision=4)]) == []
    assert where(es, alias) == {}


def test_retention_deletes_expired_periods_and_keeps_current_ones(
    elastic: ElasticSettings, es: Elasticsearch
) -> None:
    alias = elastic.contacts
    written = [contact("kept", "2026-06-15T00:00:00"), contact("gone", "2025-11-20T00:00:00")]
    assert write(elastic, written) == []  # an old period is written all the same (an import)
    assert where(es, alias)["gone"] == [f"{alias}-2025.11-000001"]
    retention = elastic.lifecycle.contacts_retention_days
    assert lifecycle.expires_at("2025.11", retention) < NOW < lifecycle.expires_at("2025.12", 365)
    states = {s.index: s for s in status(elastic, es)}
    assert states[f"{alias}-2025.11-000001"].delete_after == datetime(2026, 12, 1, tzinfo=UTC)

    done = maintain(elastic, es, NOW)
    assert done.deleted == [f"{alias}-2025.11-000001"]
    assert set(where(es, alias)) == {"kept"}
    assert {f"{alias}-2026.06-000001", f"{alias}-2027.01-000001"} <= {
        s.index for s in status(elastic, es)
    }
    assert maintain(elastic, es, NOW) == Maintained()  # again: nothing to do


def test_a_document_without_its_time_field_is_refused_with_the_reason(
    elastic: ElasticSettings,
) -> None:
    (refused,) = write(elastic, [Action("t", {"contact_id": "t", "body": "no time"}, 1)])
    assert refused.status == 400 and refused.reason == "no occurred_at to place the document by"
    source = ConsumerRecord("t", 0, 1, 0, 0, b"t", b"x", None, 0, 0, [])
    (letter,) = dead_letters_for([refused], {"t": source})
    assert (letter.stage, letter.reason_code) == ("index", "index_mapping")


def test_a_legacy_index_stays_readable_and_keeps_its_documents(
    elastic: ElasticSettings, es: Elasticsearch
) -> None:
    alias = elastic.contacts
    legacy = alias + lifecycle.LEGACY_SUFFIX
    es.indices.create(index=legacy, aliases={alias: {"is_write_index": True}})
    es.index(index=legacy, id="v1doc", document={"contact_id": "v1doc", "occurred_at": 1})
    setup_indices(elastic, es, NOW)
    assert write(elastic, [contact("v1doc", "2026-12-01T00:00:00", "moved?", 2)]) == []
    assert where(es, alias) == {"v1doc": [legacy]}
    assert write(elastic, [Action("v1doc", None, 3)]) == []
    assert where(es, alias) == {}
