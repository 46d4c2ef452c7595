"""The Kafka grants (ascolto/acls.py) as the docs state them: each principal's operations per
resource, nothing writable outside a principal's own outputs, the docs' table their output."""

from __future__ import annotations

from collections import defaultdict

import pytest

from ascolto import acls
from ascolto.config import ROOT, Settings

PREFIX = {"ASCOLTO_TOPIC_PREFIX": "p1.", "ASCOLTO_APP_ID": "app1"}
CHANGING = {"WRITE", "CREATE", "DELETE", "ALTER", "ALTER_CONFIGS", "ALL", "IDEMPOTENT_WRITE"}


def settings(**env: str) -> Settings:
    return Settings.from_env({**PREFIX, **env})


def topics_with(user: str, operation: str, s: Settings) -> set[str]:
    return {
        g.name
        for g in acls.grants(s)
        if g.user == user and g.resource == "TOPIC" and g.operation == operation
    }


def ops(user: str, s: Settings) -> dict[tuple[str, str, str], set[str]]:
    out: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for g in acls.of([user], acls.grants(s)):
        out[(g.resource, g.name, g.pattern)].add(g.operation)
    return dict(out)


def test_ingest_may_only_write_contacts_raw_and_register_its_schema() -> None:
    s = settings()
    assert ops(acls.INGEST, s) == {
        ("TOPIC", "p1.contacts.raw", "LITERAL"): {"WRITE", "DESCRIBE"},
        ("TOPIC", "p1.schemas", "LITERAL"): {"READ", "WRITE", "DESCRIBE"},
    }


@pytest.mark.parametrize("inline", ["true", "false"])
def test_the_worker_reads_what_it_consumes_and_writes_what_it_produces(inline: str) -> None:
    s = settings(ASCOLTO_INDEX_INLINE=inline)
    k = s.kafka
    derived = {k.enriched, k.conversations, k.sla_events}
    consumed = {k.raw, k.keyed, k.customers, k.schemas} | (derived if inline == "true" else set())
    assert topics_with(acls.WORKER, "READ", s) == consumed | {"app1-"}
    written = {k.keyed, k.dlq, k.audit, k.schemas, *derived, "app1-"}
    assert topics_with(acls.WORKER, "WRITE", s) == written
    # only its own internal topics, by the prefix faust names them with, may it create
    assert topics_with(acls.WORKER, "CREATE", s) == {"app1-"}
    groups = {n for (r, n, _), o in ops(acls.WORKER, s).items() if r == "GROUP" and "READ" in o}
    assert groups == ({"app1", "app1-index"} if inline == "true" else {"app1"})


def test_the_indexer_reads_the_derived_topics_as_its_group_and_writes_dead_letters() -> None:
    s = settings(ASCOLTO_INDEX_INLINE="false")
    k = s.kafka
    derived = {k.enriched, k.conversations, k.sla_events}
    assert topics_with(acls.INDEXER, "READ", s) == derived | {k.schemas}
    assert topics_with(acls.INDEXER, "WRITE", s) == {k.dlq, k.schemas}
    assert ops(acls.INDEXER, s)[("GROUP", "app1-index", "LITERAL")] == {"READ", "DESCRIBE"}


def test_the_cli_reads_the_outputs_and_may_change_nothing() -> None:
    s = settings()
    k = s.kafka
    cli = acls.of([acls.CLI], acls.grants(s))
    assert not {g.operation for g in cli} & CHANGING
    derived = {k.enriched, k.conversations, k.sla_events}
    assert topics_with(acls.CLI, "READ", s) == derived | {k.dlq, k.dlq_replayed, k.schemas}
    groups = {g.name: g.pattern for g in cli if g.resource == "GROUP" and g.operation == "READ"}
    assert groups == {acls.CLI_GROUP_PREFIX: "PREFIXED"}


def test_the_nudger_reads_sla_events_as_its_group_and_owns_its_ledger_alone() -> None:
    s = settings(ASCOLTO_NUDGER_GROUP="nudger1", ASCOLTO_NUDGER_LEDGER_TOPIC="ledger1")
    check = {"DESCRIBE", "DESCRIBE_CONFIGS"}
    assert ops(acls.NUDGER, s) == {
        ("TOPIC", s.kafka.sla_events, "LITERAL"): {"READ"} | check,
        ("GROUP", "nudger1", "LITERAL"): {"READ", "DESCRIBE"},
        ("TOPIC", "p1.ledger1", "LITERAL"): {"CREATE", "READ", "WRITE"} | check,
    }
    others = [g for g in acls.grants(s) if g.user != acls.NUDGER]
    assert not [g for g in others if g.name in ("p1.ledger1", "nudger1")]


def test_no_principal_may_create_alter_or_delete_a_topic_of_ours() -> None:
    s = settings()
    creates = {(acls.WORKER, "app1-", "PREFIXED"), (acls.NUDGER, "p1.nudges.ledger", "LITERAL")}
    for g in acls.grants(s):
        assert g.user in acls.PRINCIPALS and g.user != acls.ADMIN
        assert g.operation not in {"ALTER", "ALTER_CONFIGS", "DELETE", "ALL"}, g
        if g.operation == "CREATE":
            assert (g.user, g.name, g.pattern) in creates, g
        if g.resource == "CLUSTER":
            assert g.operation == "DESCRIBE", g


def test_names_are_literal_but_for_what_a_library_or_a_command_names() -> None:
    s = settings()
    prefixed = {(g.resource, g.name) for g in acls.grants(s) if g.pattern == "PREFIXED"}
    assert prefixed == {("TOPIC", "app1-"), ("GROUP", acls.CLI_GROUP_PREFIX)}
    topics = {g.name for g in acls.grants(s) if g.resource == "TOPIC" and g.pattern == "LITERAL"}
    assert topics and all(t.startswith("p1.") for t in topics)


def test_the_plan_adds_the_missing_and_removes_the_rest() -> None:
    wanted = acls.of([acls.INGEST], acls.grants(settings()))
    stale = acls.Grant(acls.INGEST, "TOPIC", "p1.contacts.keyed", "LITERAL", "READ")
    assert acls.plan(wanted, [wanted[0], stale]) == acls.Plan(wanted[1:], [stale])
    assert acls.plan(wanted, wanted) == acls.Plan([], [])


def test_the_docs_table_is_the_grants_of_the_default_settings() -> None:
    deploying = (ROOT / "docs" / "deploying.md").read_text()
    assert acls.table(acls.grants(Settings.from_env({}))) in deploying
    nudger = acls.table(acls.of([acls.NUDGER], acls.grants(Settings.from_env({}))))
    assert nudger.split("\n", 1)[1] in (ROOT / "docs" / "nudges.md").read_text()


def test_the_command_prints_a_principals_grants_and_refuses_an_unknown_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.cli import main

    monkeypatch.delenv("ASCOLTO_TOPIC_PREFIX", raising=False)
    assert main(["acls", "--principal", acls.INGEST]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["principal", "resource", "name", "pattern", "operations"]
    assert lines[1].split() == [
        acls.INGEST,
        "TOPIC",
        "contacts.raw",
        "LITERAL",
        "DESCRIBE,",
        "WRITE",
    ]
    schemas = ["TOPIC", "schemas", "LITERAL", "DESCRIBE,", "READ,", "WRITE"]
    assert lines[2].split() == [acls.INGEST, *schemas]
    assert len(lines) == 3
    assert main(["acls", "--principal", "ascolto-nobody"]) == 2
    assert "no such principal 'ascolto-nobody'" in capsys.readouterr().err
