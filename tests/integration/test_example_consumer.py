"""The downstream example (examples/consume_enriched.py) against a real pipeline's output: run
as a downstream team would, in its own isolated interpreter with only the shipped .avsc files,
it decodes every record of contacts.enriched and sla.events exactly as Ascolto's own codec
does, and its latest-per-key view follows the contract (docs/topics.md): answers, SLA
outcomes, and an erased customer's tombstones."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ascolto.config import Settings
from ascolto.validation import contact_id_for
from schemas import SCHEMA_DIR, codec
from services.client import post_contacts
from services.observe import read_topic
from tests.support.schema_versions import add_new_field, codec_of, current_files, evolve
from tests.support.stack import ASCOLTO, Pipeline, make_pipeline, teardown_pipeline
from tests.support.waiting import wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consume_enriched.py"
OURS = {"ascolto", "streams", "services", "schemas", "tests", "bench", "deploy"}
SOURCE = "downstream"
BRAND = "DownstreamCo"
# a 5 s target (JSON is YAML): a contact a minute old is breached at once
POLICY = {
    "version": 1,
    "rules": [
        {
            "name": "downstream",
            "targets": {"first_response": "5s", "next_response": "5s", "resolution": "1h"},
        }
    ],
}


@pytest.fixture(scope="module")
def pipe(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    tmp = tmp_path_factory.mktemp("example-consumer")
    (tmp / "policy.yaml").write_text(json.dumps(POLICY))
    pipe = make_pipeline(base_settings, tmp, {"ASCOLTO_SLA_POLICIES": str(tmp / "policy.yaml")})
    try:
        yield pipe
    finally:
        teardown_pipeline(pipe)


def test_the_example_imports_nothing_of_ascolto() -> None:
    tree = ast.parse(EXAMPLE.read_text())
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import)
            else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        )
    }  # fmt: skip
    assert {"kafka", "fastavro"} <= imported
    assert not imported & OURS, imported & OURS


@pytest.mark.parametrize("evolved", [False, True], ids=["shipped", "with-contact-v2"])
def test_the_example_fingerprints_every_schema_as_the_codec_does(
    evolved: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every writer fingerprint Ascolto's codec knows, and no other: the current versions,
    an earlier kept version (Contact v1 beside a v2, and the EnrichedContact nesting it), and
    version 1's fingerprints from before nested types were expanded."""
    directory, ours = SCHEMA_DIR, codec()
    if evolved:
        new = evolve(tmp_path, "contact.v1.avsc", add_new_field)
        directory, ours = tmp_path, codec_of(tmp_path, current_files(new))
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    book = importlib.import_module(EXAMPLE.stem).SchemaBook(directory)
    assert set(book.writers) == set(ours._readers)
    assert len(book.writers) > len(codec()._readers) or not evolved
    with pytest.raises(ValueError, match="not an Avro single-object message"):
        book.decode(b'{"event_id": "e-1"}')
    with pytest.raises(ValueError, match="unknown writer schema, fingerprint 0{16}"):
        book.decode(b"\xc3\x01" + bytes(8) + b"body")


def message(source_id: str, direction: str, handle: str, at: int, parent: str | None = None):
    return {
        "source": SOURCE, "source_id": source_id, "channel": "chat", "direction": direction,
        "brand": BRAND, "customer_handle": handle, "occurred_at": at, "in_reply_to": parent,
        "conversation_ref": f"chat-{handle}",
        "body": "my parcel 7731 never arrived" if direction == "inbound" else "Sent again today.",
    }  # fmt: skip


def run_example(pipe: Pipeline, cwd: Path) -> list[dict[str, Any]]:
    """The example in an isolated interpreter (-I: no checkout on its path), from a folder of
    its own, given only the connection and the schemas folder."""
    k = pipe.settings.kafka
    done = subprocess.run(
        [sys.executable, "-I", str(EXAMPLE), "--bootstrap", k.bootstrap, "--topic-prefix",
         k.topic_prefix, "--schemas", str(SCHEMA_DIR), "--until-end", "--view"],
        cwd=cwd, capture_output=True, text=True, timeout=60, check=False, env={},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stderr, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_example_reads_the_pipelines_output(pipe: Pipeline, tmp_path: Path) -> None:
    t0 = int(time.time() * 1000)
    sent = [
        message("late", "inbound", "ann", t0 - 60_000),  # breached at once
        message("asked", "inbound", "bob", t0),
        message("answer", "outbound", "bob", t0 + 1000, parent="asked"),  # met
        message("gone", "inbound", "cyd", t0),  # erased below
    ]
    assert not post_contacts(pipe.ingest_url, sent).refused
    late, asked, answer, gone = (contact_id_for(SOURCE, m["source_id"]) for m in sent)
    k = pipe.settings.kafka

    def outcomes() -> dict[str, str]:
        events = [v for _, v in read_topic(pipe.settings, k.sla_events) if v is not None]
        return {
            e["contact_id"]: e["event_type"] for e in events if e["event_id"].endswith("outcome")
        }

    def judged() -> bool:  # the erased customer's clock too: the erasure retracts its events
        found = outcomes()
        return found.get(late) == "breached" and asked in found and gone in found

    wait_until(judged, 60, "the three clocks' outcomes")
    erase = subprocess.run(
        [ASCOLTO, "erase", "--customer", "@cyd", "--brand", BRAND, "--wait", "60"],
        env=pipe.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert erase.returncode == 0, erase.stderr

    def tombstoned() -> bool:
        return (gone.encode(), None) in read_topic(pipe.settings, k.enriched)

    wait_until(tombstoned, 60, "the erased contact's tombstone")

    *lines, view = run_example(pipe, tmp_path)

    # every record, as Ascolto's own codec reads it
    for topic in (k.enriched, k.sla_events):
        name = topic.removeprefix(k.topic_prefix)
        theirs = [(r["key"], r["value"]) for r in lines if r["topic"] == name]
        ours = [(key.decode(), value) for key, value in read_topic(pipe.settings, topic)]
        assert sorted(map(json.dumps, theirs)) == sorted(map(json.dumps, ours)), name
    kinds = {(r["topic"], r["type"]) for r in lines}
    assert kinds == {
        ("contacts.enriched", "ascolto.v1.EnrichedContact"), ("contacts.enriched", None),
        ("sla.events", "ascolto.v1.SlaEvent"), ("sla.events", None),
    }  # fmt: skip
    enriched = [r for r in lines if r["topic"] == "contacts.enriched"]
    [tombstone] = [r for r in enriched if r["value"] is None]
    assert tombstone["key"] == gone
    had = max(r["value"]["revision"] for r in enriched if r["key"] == gone and r["value"])
    assert int(tombstone["headers"]["ascolto-revision"]) > had

    # the tables: the latest contact per id, the latest event per id, the erased one gone
    contacts = view["contacts.enriched"]
    assert set(contacts) == {late, asked, answer}
    for m, contact_id in zip(sent[:3], (late, asked, answer), strict=True):
        got = contacts[contact_id]["contact"]
        assert (got["contact_id"], got["brand"], got["customer_handle"], got["direction"]) == (
            contact_id, BRAND, m["customer_handle"], m["direction"]
        )  # fmt: skip
        assert got["occurred_at"] == m["occurred_at"] and got["body"] == m["body"]
    assert contacts[asked]["answered_by"] == answer and contacts[asked]["is_update"]
    assert contacts[asked]["sla"]["outcome"] == "met"
    assert contacts[late]["sla"]["outcome"] == "breached" and contacts[late]["answered_by"] is None
    events = view["sla.events"]
    assert events[f"{late}:first_response:outcome"]["event_type"] == "breached"
    assert events[f"{asked}:first_response:outcome"]["event_type"] == "met"
    assert {e["brand"] for e in events.values()} == {BRAND}
    assert not [e for e in events.values() if e["contact_id"] == gone]
