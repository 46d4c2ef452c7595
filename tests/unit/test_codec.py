"""The Avro codec: what one module writes another reads, and bad payloads are refused."""

from __future__ import annotations

import json

import pytest

from schemas import SCHEMA_DIR, SCHEMA_FILES, Codec, DecodeError, codec

CONTACT = {
    "contact_id": "c-1", "source": "twitter", "source_id": "42", "channel": "social",
    "direction": "inbound", "kind": "message", "brand": "acme", "customer_handle": "@jane",
    "customer_email": None, "conversation_ref": None, "in_reply_to": None, "references": [],
    "occurred_at": 1_790_000_000_000, "received_at": 1_790_000_000_500, "subject": None,
    "body": "my order never arrived", "language": None, "attributes": {"k": "v"},
}  # fmt: skip


def test_a_message_written_by_one_codec_is_read_by_another() -> None:
    payload = codec().encode("Contact", CONTACT)
    reader = Codec(SCHEMA_DIR / f for f in SCHEMA_FILES)  # a separate instance, as a consumer
    assert reader.decode_any(payload) == ("Contact", CONTACT)


def test_single_object_encoding_header() -> None:
    payload = codec().encode("Contact", CONTACT)
    assert payload[:2] == b"\xc3\x01" and len(payload) > 10


def test_timestamps_are_plain_epoch_millis() -> None:
    decoded = codec().decode(codec().encode("Contact", CONTACT))
    assert decoded["occurred_at"] == 1_790_000_000_000
    assert isinstance(decoded["occurred_at"], int)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty"),
        (b'{"json": true}', "C3 01 marker"),
        (b"\xc3\x01" + b"\x00" * 8 + b"\x02", "unknown writer schema"),
    ],
)
def test_unknown_or_foreign_payloads_are_refused_clearly(payload: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        codec().decode(payload)


def test_truncated_and_padded_bodies_are_refused() -> None:
    payload = codec().encode("Contact", CONTACT)
    with pytest.raises(DecodeError, match="corrupt Contact"):
        codec().decode(payload[:-5])
    with pytest.raises(DecodeError, match="trailing bytes"):
        codec().decode(payload + b"\x00\x00")


def test_expecting_one_type_refuses_another() -> None:
    payload = codec().encode("Customer", {"customer_id": "x", "tier": "vip"})
    with pytest.raises(DecodeError, match="expected a Contact"):
        codec().decode(payload, expect="Contact")


def test_every_schema_file_loads_and_every_new_field_has_a_default() -> None:
    # Evolution rule: fields beyond a record's required core carry defaults, so a reader of a
    # later version reads messages written by an earlier one.
    assert set(codec()._by_name) >= {"Contact", "EnrichedContact", "Conversation",
                                      "DeadLetter", "Customer", "SlaEvent"}  # fmt: skip
    for name in SCHEMA_FILES:
        schema = json.loads((SCHEMA_DIR / name).read_text())
        assert schema["namespace"] == "ascolto.v1" and schema.get("doc"), name
