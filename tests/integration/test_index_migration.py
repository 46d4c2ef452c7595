"""``ascolto indices migrate`` against the real Elasticsearch: a contacts index re-created under
a new mapping while a real pipeline writes to it, and the steps that make it safe (deletes
during the copy, stragglers after the swap, a re-run after a crash, refusals) one by one."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from ascolto import lifecycle
from ascolto.config import Settings
from ascolto.index_migration import META, Migration, MigrationError, Report
from ascolto.search import TEMPLATE_DIR, client
from ascolto.validation import contact_id_for
from services.client import post_batch
from services.observe import wait_settled
from tests.support.stack import ASCOLTO, Pipeline
from tests.support.waiting import wait_until

PERIOD = "2026.11"  # the contacts' month: their index is <alias>-2026.11-000001


def contact(n: int, run: str) -> dict[str, Any]:
    return {
        "source": "twitter", "source_id": f"{run}-{n}", "channel": "social",
        "direction": "inbound", "brand": "acme", "customer_handle": f"@cust{n % 40}",
        "occurred_at": f"2026-11-{1 + n % 28:02d}T10:{n % 60:02d}:00Z",
        "body": f"@acme order {n} never arrived",
    }  # fmt: skip


class Producer(threading.Thread):
    """Posts contacts to the ingest service until stopped; remembers every id accepted."""

    def __init__(self, url: str, run: str) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id = url, run
        self.sent: set[str] = set()
        self.stopping = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            batch = [contact(i, self.run_id) for i in range(n, n + 20)]
            status, answer = post_batch(self.url, batch)
            if status != 202:
                self.error = f"{status}: {answer}"
                return
            self.sent |= {contact_id_for(c["source"], c["source_id"]) for c in batch}
            n += 20
            self.stopping.wait(0.05)


def handle_as_text(path: Path) -> Path:
    """The contacts template with customer_handle a text field with a keyword sub-field."""
    body = json.loads((TEMPLATE_DIR / "contacts.json").read_text())
    body["mappings"]["properties"]["customer_handle"] = {
        "type": "text",
        "fields": {"keyword": {"type": "keyword"}},
    }
    path.write_text(json.dumps(body))
    return path


def all_ids(es: Elasticsearch, index: str) -> list[str]:
    es.indices.refresh(index=index)
    ids: list[str] = []
    after = None
    while hits := es.search(
        index=index, size=1000, source=False, sort=[{"occurred_at": "asc"}, {"contact_id": "asc"}],
        search_after=after,
    )["hits"]["hits"]:  # fmt: skip
        ids += [h["_id"] for h in hits]
        after = hits[-1]["sort"]
    return ids


def test_migrate_while_contacts_flow(pipeline: Pipeline, tmp_path: Path) -> None:
    es, alias = pipeline.es, pipeline.settings.elastic.contacts
    old = lifecycle.index_name(alias, PERIOD)
    producer = Producer(pipeline.ingest_url, uuid.uuid4().hex[:6])
    producer.start()
    try:
        wait_until(
            lambda: es.indices.exists(index=old) and es.count(index=old)["count"] >= 100,
            60,
            "the first contacts indexed",
        )
        done = subprocess.run(
            [ASCOLTO, "indices", "migrate", old, "--settle", "2",
             "--template", str(handle_as_text(tmp_path / "t.json"))],
            env=pipeline.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        sent_during = len(producer.sent)
        wait_until(lambda: len(producer.sent) >= sent_during + 100, 30, "contacts after it")
    finally:
        producer.stopping.set()
        producer.join(30)
    assert producer.error is None
    assert len(producer.sent) > sent_during  # still writing after the migration
    wait_settled(pipeline.settings, timeout_s=120)

    new = lifecycle.index_name(alias, PERIOD, 2)
    print(done.stdout)
    assert f"migrated {old} -> {new}: " in done.stdout
    copied = re.search(r": (\d+) documents copied", done.stdout)
    assert copied is not None and int(copied[1]) >= 100  # what was there before, at least
    behind = es.indices.get_alias(name=alias).body
    assert new in behind and old not in behind  # the period's index is the new one only
    assert es.indices.get_alias(name=lifecycle.write_alias(alias, PERIOD)).body == {
        new: {"aliases": {lifecycle.write_alias(alias, PERIOD): {"is_write_index": True}}}
    }
    indices = [r["index"] for r in es.cat.indices(index=f"{alias}-*", h="index", format="json")]
    assert new in indices and old not in indices  # deleted: its name is an alias now
    handle = es.indices.get_mapping(index=new)[new]["mappings"]["properties"]["customer_handle"]
    assert handle["type"] == "text" and handle["fields"]["keyword"]["type"] == "keyword"
    ids = all_ids(es, alias)
    assert len(ids) == len(set(ids))  # no document twice
    assert set(ids) == producer.sent  # none lost, none extra
    assert es.count(index=alias)["count"] == len(producer.sent)
    # the new mapping in effect: a word of a handle matches
    assert es.count(index=alias, query={"match": {"customer_handle": "cust7"}})["count"] > 0


# -- the steps one by one, on indices of the test's own (no pipeline) ----------------------


@pytest.fixture
def kind(base_settings: Settings) -> Iterator[tuple[Elasticsearch, Settings, str]]:
    elastic = dataclasses.replace(base_settings.elastic, index_prefix=f"t{uuid.uuid4().hex[:8]}")
    settings = dataclasses.replace(base_settings, elastic=elastic)
    es = client(elastic)
    alias = elastic.contacts
    old = lifecycle.index_name(alias, PERIOD)
    es.indices.create(
        index=old,
        mappings={"properties": {"x": {"type": "keyword"}}},
        aliases=lifecycle.creation_aliases(alias, PERIOD),
    )
    try:
        yield es, settings, old
    finally:
        found = es.options(ignore_status=404).indices.get_alias(index=f"{alias}-*").body
        if found and "error" not in found:
            es.options(ignore_status=404).indices.delete(index=",".join(found))


def put(es: Elasticsearch, index: str, doc_id: str, version: int, x: str = "a") -> None:
    es.index(index=index, id=doc_id, version=version, version_type="external_gte",
             document={"x": x})  # fmt: skip


def delete(es: Elasticsearch, index: str, doc_id: str, version: int) -> None:
    es.delete(index=index, id=doc_id, version=version, version_type="external_gte")


class Pipelike(Migration):
    """A migration during which writers act as the index stage could: before the swap on the
    old index, after it through the aliases, and late on the old index (a batch that read
    the aliases before the swap)."""

    def __init__(self, *args: Any, alias: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_alias = alias

    def _before_swap(self, new: str, report: Report) -> None:
        super()._before_swap(new, report)
        delete(self.es, self.old, "b", 5)  # deleted after its copy, before the swap
        put(self.es, self.old, "f", 3, "late")  # updated after the last pass

    def _settle_and_block(self) -> None:
        delete(self.es, self.write_alias, "a", 9)  # deleted through the alias: in the new one
        put(self.es, self.write_alias, "d", 1)  # a new document through the alias
        put(self.es, self.old, "e", 2)  # stragglers on the old index
        delete(self.es, self.old, "c", 8)
        super()._settle_and_block()


def test_deletes_and_stragglers_around_the_swap(kind: tuple[Elasticsearch, Settings, str]) -> None:
    es, settings, old = kind
    alias = settings.elastic.contacts
    for doc_id, version in (("a", 1), ("b", 1), ("c", 1), ("f", 1)):
        put(es, old, doc_id, version)
    body = {
        "settings": {"number_of_shards": 2},
        "mappings": {"properties": {"x": {"type": "text"}}},
    }
    write = lifecycle.write_alias(alias, PERIOD)
    report = Pipelike(es, old, body, alias, settle_s=0.5, alias=write).run()

    new = report.new
    es.indices.refresh(index=new)
    docs = {h["_id"]: h for h in es.search(index=alias, version=True)["hits"]["hits"]}
    assert sorted(docs) == ["d", "e", "f"]  # a, b, c deleted; d written after, e late
    assert docs["f"]["_version"] == 3 and docs["f"]["_source"]["x"] == "late"
    assert report.deleted >= 2  # b and c: copies of documents deleted in the old index
    settings_now = es.indices.get_settings(index=new)[new]["settings"]["index"]
    assert "gc_deletes" not in settings_now and settings_now["number_of_shards"] == "2"
    # the old name now leads to the new index: a writer still holding it lands there
    assert list(es.indices.get_alias(name=old).body) == [new]
    put(es, old, "g", 1)
    assert es.get(index=new, id="g")["found"]
    again = Migration(es, old, body, alias).run()
    assert again.already_done and again.new == new


def test_a_rerun_after_a_crash_finishes_the_job(kind: tuple[Elasticsearch, Settings, str]) -> None:
    es, settings, old = kind
    alias = settings.elastic.contacts
    for n in range(30):
        put(es, old, f"k{n}", n + 1)
    body = {"mappings": {"properties": {"x": {"type": "text"}}}}

    class CrashAtSwap(Migration):
        def _swap(self, new: str) -> None:
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        CrashAtSwap(es, old, body, alias, settle_s=0.2).run()
    put(es, old, "k0", 99, "after the crash")
    report = Migration(es, old, body, alias, settle_s=0.2).run()
    assert report.new == lifecycle.index_name(alias, PERIOD, 2)  # the same new index, found
    es.indices.refresh(index=alias)
    assert es.count(index=alias)["count"] == 30
    assert es.get(index=report.new, id="k0")["_version"] == 99
    assert (
        es.indices.get_mapping(index=report.new)[report.new]["mappings"]["_meta"][META]["from"]
        == old
    )


def test_refusals_leave_the_aliases_untouched(kind: tuple[Elasticsearch, Settings, str]) -> None:
    es, settings, old = kind
    alias = settings.elastic.contacts
    put(es, old, "a", 1, "not a number")
    before = es.indices.get_alias(index=old).body

    wrong = {"mappings": {"properties": {"x": {"type": "long"}}}}
    with pytest.raises(MigrationError, match="refuses 1 of a batch of 1 .* first a: .*x"):
        Migration(es, old, wrong, alias).run()
    same = {"mappings": es.indices.get_mapping(index=old)[old]["mappings"]}
    with pytest.raises(MigrationError, match="nothing to migrate"):
        Migration(es, old, same, alias).run()
    with pytest.raises(MigrationError, match="no index"):
        Migration(es, f"{alias}-nosuch", same, alias).run()
    assert es.indices.get_alias(index=f"{alias}-*").body == before  # nothing else made
