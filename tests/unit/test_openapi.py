"""The ingest API's OpenAPI document: the docs copy is the served one, its contact schema says
what ascolto/validation.py and schemas/contact.v1.avsc say, and the app answers as it
documents (in process: a key store of the test's own, a list standing in for Kafka)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ascolto import validation
from ascolto.config import ROOT, Settings
from schemas import CONTACT_FIELDS, SCHEMA_DIR
from services.ingest import app as ingest
from services.ingest import openapi
from services.ingest.auth.keys import SIGNED
from tests.support.ingest_keys import TestKeys, bearer

SPEC = openapi.spec()
CONTACT = SPEC["components"]["schemas"]["Contact"]
PROPERTIES: dict[str, Any] = CONTACT["properties"]
RECEIVED = 1_790_000_000_000
# occurred_at's upper bound moves with ingest's clock: far ahead here, so no test meets it
FAR_AHEAD = 4_000_000_000_000
# every field set, each valid: removing or changing one shows what that one field allows
FULL = {
    "source": "twitter", "source_id": "1", "channel": "email", "direction": "inbound",
    "kind": "message", "brand": "acme", "customer_handle": "@jane",
    "customer_email": "jane@example.com", "conversation_ref": "t-1", "in_reply_to": "0",
    "references": ["0"], "occurred_at": RECEIVED, "subject": "hi", "body": "hello",
    "language": "en", "attributes": {"tier": "gold"},
}  # fmt: skip


def schema_of(name: str) -> dict[str, Any]:
    """A validator of ``#/components/schemas/NAME``, references resolved in the document."""
    return {"$ref": f"#/components/schemas/{name}", "components": SPEC["components"]}


CONTACT_CHECK = Draft202012Validator(schema_of("Contact"))


def field_schema(name: str) -> dict[str, Any]:
    """A property's schema with a ``$ref`` to a shared one (Name, OptionalId) followed."""
    prop = PROPERTIES[name]
    if "$ref" in prop:
        return {**SPEC["components"]["schemas"][prop["$ref"].rsplit("/", 1)[1]], **prop}
    return prop


def errors(contact: dict[str, Any]) -> list[str]:
    try:
        validation.validate(contact, received_at=FAR_AHEAD)
    except validation.InvalidContact as exc:
        return exc.errors
    return []


def accepted(contact: dict[str, Any]) -> bool:
    return not errors(contact)


def test_the_docs_copy_is_the_served_document() -> None:
    docs = (ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8")
    assert docs == openapi.spec_text(), (
        "docs/openapi.yaml differs from services/ingest/openapi.yaml (the one served): "
        "cp services/ingest/openapi.yaml docs/openapi.yaml"
    )


def test_every_schema_in_the_document_is_valid_json_schema() -> None:
    assert SPEC["openapi"].startswith("3.1")
    for schema in SPEC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises naming what is wrong


def test_the_contact_has_the_avro_schemas_fields() -> None:
    assert set(PROPERTIES) == set(CONTACT_FIELDS)
    assert CONTACT["additionalProperties"] is False
    assert errors({**FULL, "unknown": 1}) == ["unknown fields: unknown"]


def test_enums_are_the_validators_and_the_avro_schemas() -> None:
    avro = {
        f["name"]: f["type"]
        for f in json.loads((SCHEMA_DIR / "contact.v1.avsc").read_text())["fields"]
    }
    for name, allowed in (
        ("channel", validation.CHANNELS),
        ("direction", validation.DIRECTIONS),
        ("kind", validation.KINDS),
    ):
        assert set(PROPERTIES[name]["enum"]) == allowed == set(avro[name]["symbols"]), name


def test_required_fields_are_those_the_validator_requires() -> None:
    assert accepted(FULL)
    required = {name for name in FULL if not accepted({k: v for k, v in FULL.items() if k != name})}
    assert set(CONTACT["required"]) == required


def test_null_is_allowed_where_the_validator_allows_it() -> None:
    for name in FULL:
        types = field_schema(name).get("type")
        nullable = isinstance(types, list) and "null" in types
        assert nullable == accepted({**FULL, name: None}), name


def test_length_and_count_limits_are_the_validators() -> None:
    for name in FULL:
        schema = field_schema(name)
        if "maxLength" in schema:
            limit = schema["maxLength"]
            assert accepted({**FULL, name: "x" * limit}), name
            assert not accepted({**FULL, name: "x" * (limit + 1)}), name
    refs = PROPERTIES["references"]
    assert refs["maxItems"] == validation.MAX_REFERENCES
    assert refs["items"]["maxLength"] == validation.MAX_ID_CHARS
    assert not accepted({**FULL, "references": ["x"] * (refs["maxItems"] + 1)})
    assert not accepted({**FULL, "references": ["x" * (refs["items"]["maxLength"] + 1)]})
    attrs = PROPERTIES["attributes"]
    assert attrs["maxProperties"] == validation.MAX_ATTRIBUTES
    assert attrs["propertyNames"]["maxLength"] == validation.MAX_ATTRIBUTE_NAME_CHARS
    assert attrs["additionalProperties"]["maxLength"] == validation.MAX_ATTRIBUTE_CHARS
    too_many = {str(i): "" for i in range(attrs["maxProperties"] + 1)}
    assert not accepted({**FULL, "attributes": too_many})
    assert PROPERTIES["body"]["maxLength"] == validation.MAX_BODY_CHARS
    assert PROPERTIES["subject"]["maxLength"] == validation.MAX_SUBJECT_CHARS


def test_a_contact_id_may_be_null_or_the_derived_one() -> None:
    schema = field_schema("contact_id")
    assert schema["type"] == ["string", "null"] and schema["format"] == "uuid"
    derived = validation.contact_id_for("twitter", "1")  # FULL's source and source_id
    assert accepted({**FULL, "contact_id": None}) and accepted({**FULL, "contact_id": derived})
    assert not accepted({**FULL, "contact_id": validation.contact_id_for("x", "y")})


def test_occurred_at_starts_where_the_validator_does() -> None:
    [as_int, as_text] = PROPERTIES["occurred_at"]["oneOf"]
    assert as_int["minimum"] == validation.EARLIEST_MS
    assert accepted({**FULL, "occurred_at": validation.EARLIEST_MS})
    assert not accepted({**FULL, "occurred_at": validation.EARLIEST_MS - 1})
    assert as_text["format"] == "date-time" and accepted(
        {**FULL, "occurred_at": "2026-01-01T00:00:00Z"}
    )


# Any JSON value, biased to what the schema's bounds are about.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.sampled_from(["", " ", "\t\n", "x", "a" * 513, "a" * 2001, "social", "close"])
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
# contact_id: the schema cannot say it must be the derived id; occurred_at as text: Python's
# ISO-8601 reading and JSON schema's date-time format differ at their edges
SCHEMA_CANNOT_SAY = {"contact_id", "occurred_at", "received_at"}


@given(
    name=st.sampled_from(sorted(set(FULL) - SCHEMA_CANNOT_SAY)),
    value=JSON_VALUES,
)
def test_the_schema_and_the_validator_agree_on_any_value_of_a_field(name: str, value: Any) -> None:
    contact = {**FULL, name: value}
    assert CONTACT_CHECK.is_valid(contact) == accepted(contact), (name, value, errors(contact))


# JSON schema counts 1.0 as an integer; the validator, like Avro's long, does not: floats
# with a fraction only. Integers up to the far clock: past it the validator's bound is hit.
OCCURRED_AT_NUMBERS = (
    st.none() | st.booleans() | st.integers(max_value=FAR_AHEAD)
    | st.floats(allow_nan=False).filter(lambda f: not f.is_integer())
)  # fmt: skip


@given(value=OCCURRED_AT_NUMBERS)
def test_the_schema_and_the_validator_agree_on_occurred_at_numbers(value: Any) -> None:
    contact = {**FULL, "occurred_at": value}
    assert CONTACT_CHECK.is_valid(contact) == accepted(contact), (value, errors(contact))


# --- the app answers as documented ---------------------------------------------------------


class Kafka(list[dict[str, Any]]):
    """Stands in for the publisher: the contacts it was handed."""

    async def publish(self, contacts: list[dict[str, Any]]) -> None:
        self.extend(contacts)

    async def metadata_round_trip(self) -> None:
        pass

    def close(self) -> None:
        pass


Exchange = tuple[str, str, bytes, dict[str, str]]  # method, path and query, body, headers


def answers(*exchanges: Exchange) -> tuple[list[tuple[int, Any, Any]], Kafka]:
    """(status, headers, JSON body) of each exchange with an app whose limits are small: three
    contacts and 64 KiB a request."""
    base = Settings()
    settings = dataclasses.replace(
        base, ingest=dataclasses.replace(base.ingest, max_batch=3, max_body_bytes=64 * 1024)
    )
    kafka = Kafka()

    async def run() -> list[tuple[int, Any, Any]]:
        app = ingest.create_app(settings, publisher=kafka, auth=KEYS.authenticator())  # type: ignore[arg-type]
        async with TestClient(TestServer(app)) as http:
            out = []
            for method, path, body, headers in exchanges:
                answer = await http.request(method, path, data=body, headers=headers)
                out.append((answer.status, answer.headers, orjson.loads(await answer.read())))
            return out

    return asyncio.run(run()), kafka


def documented(status: int) -> dict[str, Any]:
    """POST /v1/contacts' documented response for ``status``, its reference followed."""
    response = SPEC["paths"]["/v1/contacts"]["post"]["responses"][str(status)]
    if "$ref" in response:
        return SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


KEYS = TestKeys()
ANY = bearer(KEYS.add("any")[1])
ACME_ONLY = bearer(KEYS.add("acme-only", brands=["acme"], sources=["web"])[1])
SLOW = bearer(KEYS.add("slow", rate=1)[1])
SIGNER = KEYS.add("signer", kind=SIGNED)[0].key_id
# a timestamp no clock reaches: its arithmetic overflowed a float, a 500 before
FAR_FUTURE_SIGNATURE = {"X-Ascolto-Key-Id": SIGNER, "X-Ascolto-Signature": f"t={'9' * 400},v1=00"}
OK = orjson.dumps({**FULL, "source_id": "ok"})


def post(body: Any, headers: dict[str, str], query: str = "") -> Exchange:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return "POST", f"/v1/contacts{query}", data, headers


def test_every_answer_to_a_post_is_documented_and_only_202_publishes() -> None:
    invalid = {**FULL, "channel": "fax"}
    cases = [
        (202, post(OK, ANY)),
        (422, post([FULL, invalid], ANY)),
        (202, post([FULL, invalid], ANY, "?partial=true")),
        (202, post({**FULL, "source_id": "ignored", "received_at": "not a time"}, ANY)),
        (400, post({"contacts": [FULL], "partial": True}, ANY)),
        (400, post({"contacts": FULL}, ANY)),
        (400, post(OK, ANY, "?partial=yes")),
        (400, post(b"{not json", ANY)),
        (400, post([], ANY)),
        (401, post(OK, {})),
        (401, post(OK, {"Authorization": "Bearer asc_nokey_nosecret"})),
        (401, post(OK, FAR_FUTURE_SIGNATURE)),
        (403, post(OK, ACME_ONLY)),
        (413, post([FULL] * 4, ANY)),
        (413, post({**FULL, "body": "x" * 70_000}, ANY)),
        (202, post([FULL, FULL], SLOW)),
        (429, post(OK, SLOW)),
    ]
    got, kafka = answers(*(exchange for _, exchange in cases))
    assert [status for status, _, _ in got] == [status for status, _ in cases]
    published = []
    for status, headers, body in got:
        response = documented(status)
        schema = response["content"]["application/json"]["schema"]
        Draft202012Validator({**schema, "components": SPEC["components"]}).validate(body)
        for header, spec in response.get("headers", {}).items():
            assert not spec["required"] or header in headers, (status, header)
        if status == 202:
            published += body["ids"]
    assert [contact["contact_id"] for contact in kafka] == published
    assert got[2][2]["refused"] == [{"index": 1, "errors": got[1][2]["refused"][0]["errors"]}]
    assert got[6][2]["error"] == "partial: must be true or false, got 'yes'"
    assert got[12][2]["refused"] == [{"index": 0, "field": "source", "value": "twitter"}]


def test_aiohttps_own_refusals_are_json_errors_too() -> None:
    got, _ = answers(("PUT", "/v1/contacts", b"", ANY), ("GET", "/v2/contacts", b"", {}))
    [(not_allowed, headers, body), (not_found, _, missing)] = got
    assert not_allowed == 405 and headers["Allow"] == "POST" and "Not Allowed" in body["error"]
    assert not_found == 404 and "Not Found" in missing["error"]


def test_the_document_is_served_as_json() -> None:
    got, _ = answers(("GET", "/openapi.json", b"", {}))
    [(status, headers, body)] = got
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body == SPEC
