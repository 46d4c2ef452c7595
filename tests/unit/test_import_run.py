"""Importer runs against ingest: batches that fit the body limit, rows kept, errors told."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import urllib.error
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer

from ascolto.config import Settings
from ascolto.secret import Secret
from ascolto.validation import InvalidContact, validate
from services import client
from services.importers import run, twitter
from services.ingest import app as ingest
from tests.support.ingest_keys import ScriptedUrlopen, TestKeys, bearer
from tests.support.tweets import T0, csv_bytes, tweet

NOW = 1_790_000_000_000
CREDENTIAL = client.IngestCredential(Secret("asc_test_key"))


class FakeIngest:
    """post_batch as ingest answers it in partial mode; keeps the bodies it got."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, url: str, batch: list[dict[str, Any]], **_: Any) -> tuple[int, Any]:
        self.bodies.append(orjson.dumps(batch))
        ids, refused = [], []
        for index, raw in enumerate(batch):
            try:
                ids.append(validate(raw, received_at=NOW)["contact_id"])
            except InvalidContact as exc:
                refused.append({"index": index, "errors": exc.errors})
        return 202, {"accepted": len(ids), "ids": ids, "refused": refused}


def import_rows(monkeypatch, rows, max_body_bytes=32 * 1024 * 1024):
    fake = FakeIngest()
    monkeypatch.setattr(run, "post_batch", fake)
    settings = Settings.from_env({"ASCOLTO_INGEST_KEY": "asc_test_key"})
    settings = dataclasses.replace(
        settings, ingest=dataclasses.replace(settings.ingest, max_body_bytes=max_body_bytes)
    )
    data = csv_bytes(rows)
    result = run.run_import(settings, lambda p: twitter.read_archive_bytes(data), progress=False)
    return result, fake


def test_a_refusal_by_ingest_names_the_row(monkeypatch):
    rows = [tweet(1, "1", True, T0, "fine"), tweet(2, "2", True, T0, "x" * 100_001)]
    result, _ = import_rows(monkeypatch, rows)
    assert result.accepted == 1
    [refused] = result.refused
    assert (refused.row, refused.ref) == (3, "2")  # the header is row 1
    assert refused.reason.startswith("ingest: body: longer than")


def test_batches_stay_within_the_body_limit_and_oversize_contacts_are_refused(monkeypatch):
    rows = [tweet(i, str(i), True, T0, "y" * 3000) for i in range(1, 8)]
    rows.insert(3, tweet(99, "99", True, T0, "z" * 9000))
    result, fake = import_rows(monkeypatch, rows, max_body_bytes=8000)
    assert len(fake.bodies) > 1 and all(len(body) <= 8000 for body in fake.bodies)
    assert result.accepted == 7 and result.read == 8
    [refused] = result.refused
    assert (refused.row, refused.ref) == (5, "99")
    assert "more than ingest takes in a request (8000)" in refused.reason


def test_size_batches_counts_brackets_and_commas():
    items = [b"a" * 10] * 5
    batches = list(client.size_batches(((len(i), i) for i in items), 100, 2 + 10 + 1 + 10))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [len(b) for b in client.size_batches(((1, i) for i in items), 2, 10**6)] == [2, 2, 1]


def scripted_urlopen(monkeypatch, outcomes: list[Any]) -> list[float]:
    """urlopen raising or answering each of outcomes in turn; returns the timeouts used."""
    return ScriptedUrlopen(monkeypatch, outcomes).timeouts


def test_a_non_json_error_answer_is_reported_not_a_crash(monkeypatch):
    aiohttp_page = io.BytesIO(b"Maximum request body size 33554432 exceeded")
    too_large = urllib.error.HTTPError("http://x", 413, "Too Large", {}, aiohttp_page)  # type: ignore[arg-type]
    scripted_urlopen(monkeypatch, [too_large])
    assert client.post_batch("http://x", [{}], credential=CREDENTIAL) == (
        413,
        {"error": "Maximum request body size 33554432 exceeded"},
    )


def test_a_timeout_is_retried_and_outlasts_ingests_wait_for_kafka(monkeypatch):
    timeouts = scripted_urlopen(monkeypatch, [TimeoutError("timed out"), b'{"accepted": 1}'])
    assert client.post_batch("http://x", [{}], credential=CREDENTIAL) == (202, {"accepted": 1})
    assert timeouts[0] > ingest.PUBLISH_WAIT_S


def test_ingest_answers_503_when_kafka_does_not_acknowledge_in_time(monkeypatch):
    class HangingKafka:
        def connected(self) -> bool:
            return True

        async def publish(self, contacts: list[dict[str, Any]]) -> None:
            await asyncio.sleep(3600)  # never acknowledged: ingest's own timeout must end this

        def close(self) -> None:
            pass

    monkeypatch.setattr(ingest, "PUBLISH_WAIT_S", 0.05)
    contact = {
        "source": "t", "source_id": "1", "channel": "social", "direction": "inbound",
        "brand": "acme", "customer_handle": "@jane", "occurred_at": "2025-11-23T10:00:00Z",
        "body": "hi",
    }  # fmt: skip

    async def post() -> tuple[int, dict[str, Any]]:
        auth = TestKeys()
        _, token = auth.add()
        app = ingest.create_app(
            Settings(),
            publisher=HangingKafka(),  # type: ignore[arg-type]
            auth=auth.authenticator(),
        )
        async with TestClient(TestServer(app)) as http:
            sending = http.post("/v1/contacts", json=contact, headers=bearer(token))
            answer = await asyncio.wait_for(sending, 10)
            return answer.status, await answer.json()

    status, answer = asyncio.run(post())
    assert status == 503 and "retry" in answer["error"]


def test_the_import_command_exits_1_when_a_row_was_refused_and_0_for_repeats(monkeypatch, tmp_path):
    from services.cli import main

    monkeypatch.setattr(run, "post_batch", FakeIngest())
    monkeypatch.setenv("ASCOLTO_INGEST_KEY", "asc_test_key")
    archive = tmp_path / "twcs.csv"
    fine = tweet(1, "1", True, T0, "fine")
    archive.write_bytes(csv_bytes([fine, fine]))  # the same tweet twice: a repeat, not a loss
    assert main(["import", "twitter-archive", str(archive), "--quiet"]) == 0
    archive.write_bytes(csv_bytes([fine, tweet(2, "2", True, T0, "x" * 100_001)]))
    assert main(["import", "twitter-archive", str(archive), "--quiet"]) == 1
