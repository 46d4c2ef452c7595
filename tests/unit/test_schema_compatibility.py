"""The compatibility rule (docs/schemas.md): every kept version of every message type reads
every other one, checked by resolving generated records both ways; a change that breaks it
fails here, so in CI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import fastavro
import pytest

from schemas import SCHEMA_DIR, SCHEMA_FILES, VERSIONED, kept_versions
from schemas.compatibility import Samples, check, check_all, sample_count
from tests.support.schema_versions import Schema, add_new_field, evolve, field


def test_every_kept_version_of_every_shipped_schema_keeps_the_rule() -> None:
    assert check_all() == []


def test_schema_files_are_versioned_and_the_current_one_is_the_latest_kept() -> None:
    for path in SCHEMA_DIR.glob("*.avsc"):
        assert VERSIONED.match(path.name), f"{path.name}: name it <type>.v<N>.avsc"
    for file in SCHEMA_FILES:
        versions = kept_versions(SCHEMA_DIR / file)
        assert versions[-1].name == file, f"{file} is not the latest of {versions}"
        numbers = [int(VERSIONED.match(p.name)["version"]) for p in versions]  # type: ignore[index]
        assert numbers == list(range(1, len(numbers) + 1)), f"{file}: a version is missing"


def _add_channel(schema: Schema) -> None:
    field(schema, "channel")["type"]["symbols"].append("fax")


def _add_kind(schema: Schema) -> None:  # ContactKind has had a default symbol since version 1
    field(schema, "kind")["type"]["symbols"].append("note")


def _required_field(schema: Schema) -> None:
    schema["fields"].append({"name": "satisfaction", "type": "int"})


def _retype(schema: Schema) -> None:
    field(schema, "body")["type"] = "int"


def _drop_required(schema: Schema) -> None:
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "brand"]


def _drop_optional(schema: Schema) -> None:
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "subject"]


def _narrow_union(schema: Schema) -> None:
    field(schema, "subject").update(type="string", default="")


def _widen_union(schema: Schema) -> None:
    field(schema, "subject")["type"].append("int")


def _rename(schema: Schema) -> None:
    schema["name"] = "Contact2"


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        (_required_field, "No default value for field satisfaction"),
        (_retype, "cannot read contact.v2.avsc"),
        (_drop_required, "No default value for field brand"),
        (_add_channel, "fax"),
        (_narrow_union, "cannot read contact.v1.avsc"),
        (_widen_union, "contact.v1.avsc cannot read contact.v2.avsc"),
        (_rename, "Schema mismatch"),
    ],
)
def test_a_change_that_breaks_the_rule_is_refused(
    tmp_path: Path, change: Callable[[Schema], None], broken: str
) -> None:
    new = evolve(tmp_path, "contact.v1.avsc", change)
    problems = check_all((new.name,), tmp_path)
    assert problems, f"{change.__name__} was let through"
    assert any(broken in str(p) for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize("change", [add_new_field, _add_kind, _drop_optional])
def test_a_change_within_the_rule_passes(tmp_path: Path, change: Callable[[Schema], None]) -> None:
    new = evolve(tmp_path, "contact.v1.avsc", change)
    assert check_all((new.name,), tmp_path) == []


def test_the_rule_is_transitive_a_third_version_is_checked_against_the_first(
    tmp_path: Path,
) -> None:
    # v2 drops the optional subject, v3 brings it back as a number: each step alone is
    # compatible, but v1's and v3's subjects are not, which only the first-to-third pair shows
    def subject_as_number(schema: Schema) -> None:
        schema["fields"].append({"name": "subject", "type": "int", "default": 0})

    evolve(tmp_path, "contact.v1.avsc", _drop_optional)
    v3 = evolve(tmp_path, "contact.v1.avsc", subject_as_number)
    pairs = {(p.writer, p.reader) for p in check_all((v3.name,), tmp_path)}
    assert pairs == {("contact.v1.avsc", "contact.v3.avsc"), ("contact.v3.avsc", "contact.v1.avsc")}


def test_nested_types_are_resolved_to_the_current_version_of_their_file(tmp_path: Path) -> None:
    # EnrichedContact nests Contact by name: a compatible Contact keeps it compatible
    new = evolve(tmp_path, "contact.v1.avsc", add_new_field)
    files = (new.name, "enriched-contact.v1.avsc")
    assert check_all(files, tmp_path) == []


def test_samples_cover_every_enum_symbol_and_union_branch() -> None:
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "e", "type": {"type": "enum", "name": "E", "symbols": list("abcdefg")}},
                {"name": "u", "type": ["null", "string", "long", "double"]},
                {"name": "again", "type": "E"},
            ],
        }
    )
    records = Samples(schema).take(sample_count(schema))
    assert {r["e"] for r in records} == set("abcdefg") == {r["again"] for r in records}
    assert {type(r["u"]) for r in records} == {type(None), str, int, float}


def test_a_version_pair_reports_which_reads_which() -> None:
    old = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
    )
    new = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}
    )
    # a promotion reads old records, but an older reader cannot read the promoted type
    (only,) = check([("v1", old), ("v2", new)])
    assert (only.writer, only.reader) == ("v2", "v1")
