"""Index setup against the real server: an index made by an earlier release gets the fields
added since (the mappings are strict), and a changed field type is refused at setup."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from elasticsearch import BadRequestError

from ascolto.config import Settings
from ascolto.search import client, delete_indices, setup_indices


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
        es.index(index=elastic.conversations, id="c1", document={"resolves_at": 1}, refresh=True)
        assert es.count(index=elastic.conversations)["count"] == 1
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
