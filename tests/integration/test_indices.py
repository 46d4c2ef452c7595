"""Index setup against the real server: an index made by an earlier release (``-v1``) gets
the fields added since (the mappings are strict) and stays readable, a changed field type is
refused at setup, and indices get the shards and replicas of the settings."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from elasticsearch import BadRequestError

from ascolto import lifecycle
from ascolto.config import Settings
from ascolto.search import client, delete_indices, kinds, setup_indices


def test_setup_adds_new_fields_to_an_index_made_before(base_settings: Settings) -> None:
    elastic = dataclasses.replace(base_settings.elastic, index_prefix=f"t{uuid.uuid4().hex[:8]}")
    es = client(elastic)
    index = f"{elastic.conversations}-v1"
    try:
        # as an earlier release made it: strict, without resolves_at
        es.indices.create(
            index=index,
            aliases={elastic.conversations: {"is_write_index": True}},
            mappings={"dynamic": "strict", "properties": {"status": {"type": "keyword"}}},
        )
        with pytest.raises(BadRequestError, match="strict_dynamic_mapping_exception"):
            es.index(index=elastic.conversations, id="c1", document={"resolves_at": 1})

        assert index not in setup_indices(elastic, es)  # kept, not made again
        es.index(index=index, id="c1", document={"resolves_at": 1}, refresh=True)
        assert es.count(index=elastic.conversations)["count"] == 1  # read through the alias
        with pytest.raises(BadRequestError, match="no write index"):  # no longer written
            es.index(index=elastic.conversations, id="c2", document={"resolves_at": 1})
        fields = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
        assert fields["resolves_at"]["type"] == "date"
        assert setup_indices(elastic, es) == []  # again: nothing to do, nothing refused

        es.indices.delete(index=index)
        es.indices.create(
            index=index,
            aliases={elastic.conversations: {"is_write_index": True}},
            mappings={"properties": {"status": {"type": "integer"}}},
        )
        with pytest.raises(BadRequestError, match="status"):
            setup_indices(elastic, es)
    finally:
        delete_indices(elastic, es)


def test_setup_makes_indices_with_the_shards_and_replicas_asked(
    base_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    elastic = dataclasses.replace(
        base_settings.elastic, index_prefix=f"t{uuid.uuid4().hex[:8]}", shards=2
    )
    es = client(elastic)
    nodes = es.cluster.health()["number_of_data_nodes"]

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "ascolto.setup"]

    def sizes() -> set[tuple[str, str]]:
        found = es.indices.get_settings(index=f"{elastic.index_prefix}-*").body
        return {
            (
                s["settings"]["index"]["number_of_shards"],
                s["settings"]["index"]["number_of_replicas"],
            )
            for s in found.values()
        }

    try:
        made = setup_indices(elastic, es)
        periods = lifecycle.due_periods(datetime.now(UTC), "month")
        expected = [lifecycle.index_name(elastic.alias(k), p) for k in kinds() for p in periods]
        assert sorted(made) == sorted(expected)
        assert sizes() == {("2", "0")}
        assert said() == []

        # more replicas than nodes to hold them, and other shards: the replicas are set on
        # the existing indices (and wait, unassigned), the shards stay; both said as warnings
        more = dataclasses.replace(elastic, shards=3, replicas=nodes)
        assert setup_indices(more, es) == []
        assert sizes() == {("2", str(nodes))}
        warnings = said()
        assert warnings[0].startswith(
            f"ASCOLTO_ES_REPLICAS={nodes}, but Elasticsearch has {nodes} data node"
        )
        shards = [w for w in warnings if w.startswith("ASCOLTO_ES_SHARDS=3, but ")]
        assert len(shards) == len(made)
    finally:
        delete_indices(elastic, es)
