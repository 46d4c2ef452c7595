"""Contact validation: the door and the worker agree on what a valid contact is."""

from __future__ import annotations

import pytest

from ascolto.validation import (
    MAX_ATTRIBUTE_CHARS,
    MAX_ATTRIBUTE_NAME_CHARS,
    MAX_ATTRIBUTES,
    MAX_BODY_CHARS,
    MAX_CONTACT_BYTES,
    MAX_ID_CHARS,
    MAX_REFERENCES,
    InvalidContact,
    contact_id_for,
    parse_timestamp_ms,
    validate,
)
from schemas import codec

NOW = 1_790_000_000_000
KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588  # the broker's message.max.bytes (deploy/ keeps it)
GOOD = {
    "source": "webform", "source_id": "f-1", "channel": "web_form", "direction": "inbound",
    "brand": "acme", "customer_handle": "jane@example.com", "occurred_at": "2026-09-21T12:00:00Z",
    "body": "The form keeps failing",
}  # fmt: skip


def test_a_valid_contact_gets_a_stable_id_and_defaults() -> None:
    record = validate(GOOD, received_at=NOW)
    assert record["contact_id"] == contact_id_for("webform", "f-1")
    assert validate(dict(GOOD), received_at=NOW + 5)["contact_id"] == record["contact_id"]
    assert record["kind"] == "message" and record["references"] == [] and record["attributes"] == {}
    assert record["received_at"] == NOW
    assert record["occurred_at"] == parse_timestamp_ms("2026-09-21T12:00:00+00:00")


def test_every_problem_is_reported_at_once() -> None:
    bad = {"source": "", "channel": "fax", "direction": "up", "occurred_at": "soon", "body": 3}
    with pytest.raises(InvalidContact) as err:
        validate(bad, received_at=NOW)
    text = str(err.value)
    expected = (
        "source: must not be empty", "source_id: required", "brand: required",
        "channel: must be one of", "direction", "occurred_at", "body: must be a string",
    )  # fmt: skip
    for fragment in expected:
        assert fragment in text


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"occurred_at": 1_700_000_000}, "seconds instead of milliseconds"),
        ({"occurred_at": "2026-09-21T12:00:00"}, "no time zone"),
        ({"occurred_at": NOW + 3 * 86_400_000}, "in the future"),
        ({"occurred_at": True}, "boolean"),
        ({"references": ["a", 1]}, "references"),
        ({"attributes": {"a": 1}}, "attributes"),
        ({"kind": "delete"}, "kind"),
        ({"mood": "angry"}, "unknown fields: mood"),
        ({"body": "x" * 100_001}, "longer than"),
        ({"contact_id": "chosen-by-client"}, "derived from (source, source_id)"),
    ],
)
def test_specific_refusals(change: dict, fragment: str) -> None:
    with pytest.raises(InvalidContact, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        validate({**GOOD, **change}, received_at=NOW)


def test_non_objects_are_refused() -> None:
    with pytest.raises(InvalidContact, match="JSON object"):
        validate(["not", "an", "object"], received_at=NOW)


@pytest.mark.parametrize("field", ["channel", "direction", "kind", "received_at"])
@pytest.mark.parametrize("value", [["social"], {"a": 1}])
def test_a_list_or_object_where_a_word_belongs_is_refused_not_a_crash(field, value) -> None:
    with pytest.raises(InvalidContact, match=f"^{field}: must be"):
        validate({**GOOD, field: value}, received_at=NOW)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"references": ["r"] * (MAX_REFERENCES + 1)}, f"references: more than {MAX_REFERENCES}"),
        ({"references": ["r" * (MAX_ID_CHARS + 1)]}, "references: an id is longer than"),
        ({"attributes": {str(i): "v" for i in range(MAX_ATTRIBUTES + 1)}}, "attributes: more"),
        ({"attributes": {"attachment": "A" * (MAX_ATTRIBUTE_CHARS + 1)}}, "attachment"),
        ({"attributes": {"k" * (MAX_ATTRIBUTE_NAME_CHARS + 1): "v"}}, "attributes: names"),
    ],
)
def test_references_and_attributes_are_bounded(change: dict, fragment: str) -> None:
    with pytest.raises(InvalidContact, match=fragment):
        validate({**GOOD, **change}, received_at=NOW)


def test_a_contact_kafka_would_refuse_is_refused_here_and_one_it_takes_fits() -> None:
    widest = "\U0001f600"  # four bytes in UTF-8
    each_field_within_bounds = {
        **GOOD,
        "body": widest * MAX_BODY_CHARS,
        "references": [widest * MAX_ID_CHARS] * MAX_REFERENCES,
    }
    with pytest.raises(InvalidContact, match=f"more than {MAX_CONTACT_BYTES}"):
        validate(each_field_within_bounds, received_at=NOW)
    largest = {  # 880 kB of four-byte characters
        **GOOD,
        "body": widest * MAX_BODY_CHARS,
        "attributes": {f"a{i}": widest * MAX_ATTRIBUTE_CHARS for i in range(12)},
    }
    record = validate(largest, received_at=NOW)
    assert len(codec().encode("Contact", record)) < KAFKA_DEFAULT_MAX_MESSAGE_BYTES
