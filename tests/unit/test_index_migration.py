"""The pure parts of an index migration (ascolto.migration_plan), and the refusals that need
no cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ascolto import migration_plan as plan
from ascolto.config import ElasticSettings
from ascolto.index_migration import MigrationError, _item_starts, template_for

A = "ascolto-contacts"


def test_the_new_name_is_the_periods_next_generation() -> None:
    old = f"{A}-2026.12-000001"
    assert plan.successor(old, [old], A) == f"{A}-2026.12-000002"
    # rolled over already: past the period's newest generation, whichever is migrated
    taken = [old, f"{A}-2026.12-000002", f"{A}-2027.01-000005"]
    assert plan.successor(old, taken, A) == f"{A}-2026.12-000003"
    assert plan.family(old, A) == f"{A}-*"


def test_other_names_get_a_version_suffix_never_taken() -> None:
    assert plan.successor(f"{A}-v1", [], A) == f"{A}-v2"
    assert plan.successor(f"{A}-v1", [f"{A}-v2", f"{A}-v3"], A) == f"{A}-v4"
    assert plan.successor("notes", [], None) == "notes-v2"
    assert plan.family("notes", None) == "notes-v*" and plan.family(f"{A}-v3", None) == f"{A}-v*"


def test_the_swap_moves_every_alias_with_its_properties_in_one_request() -> None:
    aliases = {
        A: {},
        f"{A}-2026.12": {"is_write_index": True},
        "vip": {"filter": {"term": {"tier": "vip"}}, "index_routing": "1", "search_routing": "1"},
    }
    actions = plan.swap_actions("old", "new", aliases)
    assert actions == [
        {"add": {"index": "new", "alias": A}},
        {"add": {"index": "new", "alias": f"{A}-2026.12", "is_write_index": True}},
        {
            "add": {
                "index": "new",
                "alias": "vip",
                "filter": {"term": {"tier": "vip"}},
                "index_routing": "1",
                "search_routing": "1",
            }
        },
        {"remove": {"index": "old", "alias": A}},
        {"remove": {"index": "old", "alias": f"{A}-2026.12"}},
        {"remove": {"index": "old", "alias": "vip"}},
    ]
    assert plan.swap_actions("old", "new", {}) == []


def test_retiring_deletes_the_old_index_and_keeps_its_name_as_an_alias() -> None:
    assert plan.retire_actions("old", "new") == [
        {"remove_index": {"index": "old"}},
        {"add": {"index": "new", "alias": "old"}},
    ]


def test_a_definition_is_the_mapping_analysis_and_shards_not_the_meta() -> None:
    mappings = {"dynamic": "strict", "properties": {"h": {"type": "keyword"}}}
    settings = {"index": {"number_of_shards": "1", "gc_deletes": "1h", "uuid": "x"}}
    base = plan.definition(mappings, settings)
    assert plan.definition({**mappings, "_meta": {"from": "a"}}, {"index": {}}) != base
    assert plan.definition({**mappings, "_meta": {"from": "a"}}, settings) == base
    text = {"dynamic": "strict", "properties": {"h": {"type": "text"}}}
    assert plan.definition(text, settings) != base
    analysed = {"index": {**settings["index"], "analysis": {"analyzer": {"a": {}}}}}
    assert plan.definition(mappings, analysed) != base
    assert plan.definition(mappings, {"index": {"number_of_shards": "2"}}) != base


def test_a_catch_up_pass_takes_everything_after_the_lowest_checkpoint() -> None:
    assert plan.seq_after({"0": 41, "1": 7}) == {"range": {"_seq_no": {"gt": 7}}}
    assert plan.seq_after({}) == {"range": {"_seq_no": {"gt": -1}}}


def test_a_copy_keeps_the_version_and_routing_and_never_overwrites_newer() -> None:
    hit = {"_id": "c1", "_version": 7, "_routing": "r", "_source": {"x": 1}}
    assert plan.copy_lines("new", hit) == [
        {
            "index": {
                "_index": "new",
                "_id": "c1",
                "version": 7,
                "version_type": "external_gte",
                "routing": "r",
            }
        },
        {"x": 1},
    ]
    assert plan.delete_lines("new", "c1", 7) == [
        {"delete": {"_index": "new", "_id": "c1", "version": 7, "version_type": "external_gte"}}
    ]


def test_bulk_results_are_sorted_into_done_older_retry_and_rejected() -> None:
    outcome = plan.Outcome()
    outcome.add(
        [
            {"index": {"_id": "a", "status": 201}},
            {"index": {"_id": "b", "status": 409}},
            {"index": {"_id": "c", "status": 429}},
            {"delete": {"_id": "d", "status": 404}},
            {
                "index": {
                    "_id": "e",
                    "status": 400,
                    "error": {
                        "type": "document_parsing_exception",
                        "reason": "failed to parse field [x] of type [long]",
                        "caused_by": {"reason": 'For input string: "abc"'},
                    },
                }
            },
            {"index": {"_id": "f", "status": 503}},
        ]
    )
    assert (outcome.done, outcome.older, outcome.retry) == (2, 1, [2, 5])
    assert outcome.rejected == [
        (
            "e",
            "document_parsing_exception: failed to parse field [x] of type [long] "
            '(For input string: "abc")',
        )
    ]


def test_what_the_new_index_lacks_or_holds_older() -> None:
    old = {"a": 3, "b": 3, "c": 3}
    there = [
        {"_id": "a", "found": True, "_version": 3},
        {"_id": "b", "found": True, "_version": 2},
        {"_id": "c", "found": False},
    ]
    assert plan.missing_or_older(old, there) == ["b", "c"]
    assert plan.missing_or_older({"a": 3}, [{"_id": "a", "found": True, "_version": 9}]) == []


def test_bulk_items_span_one_line_for_a_delete_two_for_an_index() -> None:
    lines = [*plan.copy_lines("n", {"_id": "a", "_version": 1, "_source": {}})]
    lines += plan.delete_lines("n", "b", 1)
    lines += plan.copy_lines("n", {"_id": "c", "_version": 1, "_source": {}})
    assert _item_starts(lines) == [0, 2, 3, 5]


def test_a_template_is_refused_in_one_line(tmp_path: Path) -> None:
    settings = ElasticSettings()
    with pytest.raises(MigrationError, match="no kind's index: name a template file"):
        template_for("notes-v1", "current", settings)
    with pytest.raises(MigrationError, match=r"template .*nope.json: .*No such file"):
        template_for(f"{settings.contacts}-v1", str(tmp_path / "nope.json"), settings)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"mappings": {"properties": {}}}))
    with pytest.raises(MigrationError, match="no 'settings' object"):
        template_for(f"{settings.contacts}-v1", str(bare), settings)
    body, alias = template_for(f"{settings.contacts}-2026.12-000001", "current", settings)
    assert alias == settings.contacts and body["mappings"]["dynamic"] == "strict"
    assert body["settings"]["number_of_shards"] == settings.shards
