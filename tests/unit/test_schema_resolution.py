"""The codec resolves a record of another known version to its own (current) version: older
ones from the kept files, newer ones from a schema source (the registry on Kafka; here an
in-memory one, the codec's logic being what is under test)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas import HEADER_LEN, MAGIC, SCHEMA_DIR, SCHEMA_FILES, Codec, DecodeError, codec
from tests.support.schema_versions import (
    NEW_FIELD,
    Schema,
    add_new_field,
    codec_of,
    current_files,
    evolve,
    field,
)
from tests.support.timeline_records import T0, record
from tests.unit.test_codec import CONTACT


class Source:
    """Canonical schemas by fingerprint, counting the lookups."""

    def __init__(self, *codecs_and_names: tuple[Codec, str]) -> None:
        self.schemas: dict[str, str] = {}
        for c, name in codecs_and_names:
            self.schemas |= c.canonical([name])
        self.lookups = 0

    def lookup(self, fingerprint: bytes) -> str | None:
        self.lookups += 1
        return self.schemas.get(fingerprint.hex())


@pytest.fixture
def v2(tmp_path: Path) -> Codec:
    """A newer process's codec: Contact version 2 with a new optional field."""
    new = evolve(tmp_path, "contact.v1.avsc", add_new_field)
    return codec_of(tmp_path, current_files(new))


def test_a_newer_reader_reads_an_older_record_with_the_new_fields_default(v2: Codec) -> None:
    payload = codec().encode("Contact", CONTACT)
    assert v2.decode(payload, expect="Contact") == CONTACT | {NEW_FIELD: None}


def test_an_older_reader_reads_a_newer_record_from_the_registry_once(v2: Codec) -> None:
    source = Source((v2, "Contact"))
    v1 = Codec(codec_of_shipped(), source=source)
    payload = v2.encode("Contact", CONTACT | {NEW_FIELD: 4})
    for _ in range(3):
        assert v1.decode(payload, expect="Contact") == CONTACT
    assert source.lookups == 1  # then the codec holds the resolved pair


def test_a_newer_enriched_contact_nesting_the_newer_contact_is_read_too(v2: Codec) -> None:
    enriched = record("1", "inbound", T0, None, "where is my order")
    source = Source((v2, "EnrichedContact"))
    v1 = Codec(codec_of_shipped(), source=source)
    newer = v2.encode(
        "EnrichedContact", enriched | {"contact": enriched["contact"] | {NEW_FIELD: 2}}
    )
    assert v1.decode(newer) == enriched
    older = codec().encode("EnrichedContact", enriched)
    assert v2.decode(older)["contact"] == enriched["contact"] | {NEW_FIELD: None}


def test_a_writer_unknown_here_and_in_the_registry_is_refused(v2: Codec) -> None:
    v1 = Codec(codec_of_shipped(), source=Source())
    with pytest.raises(
        DecodeError, match="unknown writer schema, .* not known in the schema registry"
    ):
        v1.decode(v2.encode("Contact", CONTACT | {NEW_FIELD: 1}))


def test_a_registered_writer_that_does_not_resolve_is_refused_with_the_reason(
    tmp_path: Path,
) -> None:
    def retype(schema: Schema) -> None:
        field(schema, "body")["type"] = "int"

    bad = codec_of(tmp_path, current_files(evolve(tmp_path, "contact.v1.avsc", retype)))
    v1 = Codec(codec_of_shipped(), source=Source((bad, "Contact")))
    payload = bad.encode("Contact", CONTACT | {"body": 7})
    with pytest.raises(
        DecodeError, match=r"writer schema \w{16} \(Contact\) does not resolve"
    ) as err:
        v1.decode(payload)
    assert len(str(err.value)) < 400  # fastavro prints both schemas whole: cut to a line


def test_a_registry_entry_that_is_not_the_fingerprints_schema_is_refused(v2: Codec) -> None:
    payload = v2.encode("Contact", CONTACT | {NEW_FIELD: 1})
    source = Source()
    source.schemas[payload[2:10].hex()] = codec().canonical(["Contact"]).popitem()[1]
    with pytest.raises(DecodeError, match="has fingerprint"):
        Codec(codec_of_shipped(), source=source).decode(payload)


def test_a_writer_of_a_type_this_version_lacks_is_refused(v2: Codec) -> None:
    only_contacts = Codec(codec_of_shipped()[:1], source=Source((v2, "Customer")))
    with pytest.raises(DecodeError, match="a Customer, a type this version lacks"):
        only_contacts.decode(v2.encode("Customer", {"customer_id": "x", "tier": "vip"}))


def test_the_current_version_is_read_as_written_without_resolution() -> None:
    payload = codec().encode("Contact", CONTACT)
    name, writer, reader = codec()._readers[payload[2:10]]
    assert (name, writer, reader) == ("Contact", codec().schema("Contact"), None)


def test_canonical_is_keyed_by_the_fingerprint_a_message_carries() -> None:
    payload = codec().encode("Contact", CONTACT)
    ((key, text),) = codec().canonical(["Contact"]).items()
    assert key == payload[2:10].hex()
    assert json.loads(text)["name"] == "ascolto.v1.Contact"


def codec_of_shipped() -> list[Path]:
    return [SCHEMA_DIR / f for f in SCHEMA_FILES]


def test_a_nested_types_new_version_is_a_new_fingerprint_of_the_outer_type(v2: Codec) -> None:
    older, newer = codec().canonical(["EnrichedContact"]), v2.canonical(["EnrichedContact"])
    assert older.keys() != newer.keys()
    assert NEW_FIELD in newer.popitem()[1] and NEW_FIELD not in older.popitem()[1]


def test_records_under_the_fingerprint_without_the_nested_definition_are_still_read(
    v2: Codec,
) -> None:
    # what this codec wrote for EnrichedContact before its fingerprint covered Contact
    enriched = record("1", "inbound", T0, None, "where is my order")
    payload = codec().encode("EnrichedContact", enriched)
    unexpanded = to_parsing_canonical_form(codec().schema("EnrichedContact"))
    old = MAGIC + struct.pack("<Q", int(fingerprint(unexpanded, "CRC-64-AVRO"), 16))
    assert old != payload[:HEADER_LEN]
    written_before = old + payload[HEADER_LEN:]
    assert codec().decode(written_before) == enriched
    assert v2.decode(written_before)["contact"][NEW_FIELD] is None
