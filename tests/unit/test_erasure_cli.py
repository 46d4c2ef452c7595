"""``ascolto erase``'s pure parts: who the person is, where their erase requests go, what its
audit event says; and the retention of every topic, from one settings block."""

from __future__ import annotations

import pytest

from ascolto.config import ConfigError, Settings
from ascolto.topics import topic_specs
from schemas import codec
from services.erase import Outcome, erasure_records, find_person, identity_of, person_query
from services.ingest.publisher import routing_key
from streams.customers import resolve

DAY_MS = 24 * 3600 * 1000
PROFILE = {
    "customer_id": "cust-jane-7",
    "account_id": None,
    "name": "Jane Doe",
    "tier": "vip",
    "handles": ["@Jane.Doe"],
    "emails": ["Jane@Example.org"],
}


def test_what_the_operator_types_is_normalised_as_ingest_and_route_do() -> None:
    assert identity_of(" @Jane.Doe ") == "handle:jane.doe"
    assert identity_of("Jane@Example.org") == "email:jane@example.org"
    with pytest.raises(ConfigError, match="--customer: empty"):
        identity_of(" @ ")


def test_a_listed_person_is_found_by_any_identity_with_all_their_timelines() -> None:
    directory = {"handle:jane.doe": PROFILE, "email:jane@example.org": PROFILE, "handle:x": None}
    person = find_person("email:jane@example.org", directory)
    assert set(person.identities) == {"email:jane@example.org", "handle:jane.doe"}
    assert set(person.listed) == set(person.identities)
    # the profile's id, and the ids their contacts had before the profile existed
    assert set(person.customer_ids) == {"cust-jane-7", *person.identities}
    assert (person.handles, person.emails) == (["jane.doe"], ["jane@example.org"])


def test_an_unknown_person_is_their_identity_and_nothing_is_listed() -> None:
    person = find_person("handle:bob", {"handle:bob": None})  # forgotten earlier
    assert person.identities == person.customer_ids == ("handle:bob",)
    assert person.listed == ()
    contact = {"customer_handle": "@Bob", "customer_email": None}
    assert resolve(contact, lambda _: None).customer_id in person.customer_ids


def test_each_erase_record_is_keyed_as_ingest_keys_that_identitys_contacts() -> None:
    directory = {"handle:jane.doe": PROFILE, "email:jane@example.org": PROFILE}
    person = find_person("handle:jane.doe", directory)
    records = erasure_records("req-1", person, ["acme", "Globex"], 5)
    assert len(records) == 2 * len(person.identities) * len(person.customer_ids)
    assert [r["part"] for _, r in records] == list(range(len(records)))
    contact_keys = {
        routing_key({"brand": brand, "customer_handle": written})
        for brand in ("ACME", "globex")
        for written in ("@Jane.Doe", "Jane@Example.org")  # as posted: the mbox importer's handle
    }
    assert {key for key, _ in records} == contact_keys
    for _, record in records:
        codec().encode("Erasure", record)  # a valid Erasure
        assert record["brand"] in {"acme", "globex"}


def test_the_query_finds_the_person_by_id_handle_as_written_and_email_under_the_brands() -> None:
    person = find_person("handle:jane.doe", {"handle:jane.doe": PROFILE})
    query = person_query(person, ["acme"])["bool"]
    values = {
        (field, spec["value"])
        for clause in query["should"]
        for field, spec in clause.get("term", {}).items()
    }
    assert {("customer_handle", "jane.doe"), ("customer_handle", "@jane.doe")} <= values
    assert ("customer_email", "jane@example.org") in values
    assert "cust-jane-7" in query["should"][0]["terms"]["customer_id"]
    assert query["filter"][0]["bool"]["should"][0]["term"]["brand"]["value"] == "acme"


def test_the_commands_audit_event_names_no_one() -> None:
    outcome = Outcome("req-1", ["acme"], requests=6, identities=2)
    outcome.worker = {"timelines": 1, "contacts": 4}
    outcome.documents = {"ascolto-contacts": 4}
    encoded = codec().encode("AuditEvent", outcome.audit(7))
    decoded = codec().decode(encoded, expect="AuditEvent")
    assert decoded["counts"]["documents ascolto-contacts"] == 4
    assert decoded["counts"]["identities_forgotten"] == 2
    for personal in ("jane", "Jane", "cust-jane-7", "example.org"):
        assert personal.encode() not in encoded


def test_every_topics_retention_comes_from_the_retention_settings() -> None:
    env = {
        "ASCOLTO_RETENTION_DAYS": "3",
        "ASCOLTO_DLQ_RETENTION_DAYS": "9",
        "ASCOLTO_AUDIT_RETENTION_DAYS": "500",
    }
    k = Settings.from_env(env).kafka
    specs = topic_specs(k)
    for topic in (k.raw, k.keyed, k.enriched, k.conversations, k.sla_events):
        assert specs[topic]["retention.ms"] == str(3 * DAY_MS), topic
    assert specs[k.dlq]["retention.ms"] == str(9 * DAY_MS)
    assert specs[k.audit] == {"cleanup.policy": "delete", "retention.ms": str(500 * DAY_MS)}
    assert "retention.ms" not in specs[k.customers]  # compacted: a tombstone erases
    defaults = topic_specs(Settings.from_env({}).kafka)
    assert defaults[k.topic("contacts.raw")]["retention.ms"] == str(7 * DAY_MS)
    with pytest.raises(ConfigError, match="ASCOLTO_RETENTION_DAYS"):
        Settings.from_env({"ASCOLTO_RETENTION_DAYS": "0"})
