"""Ingest's door through the aiohttp app: bearer keys, signed requests, scopes, rate limits,
and what is counted and logged. A recording publisher stands in for Kafka."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer

from ascolto.config import Settings
from services.ingest import app as ingest
from services.ingest.auth.keys import SIGNED, editing, revoked
from services.ingest.auth.signing import ReplayGuard, derive_secret, signature_header
from tests.support.ingest_keys import MASTER, RecordingPublisher, TestKeys, bearer, contact

NOW = 1_790_000_000.0


Request = tuple[Any, dict[str, str]]  # (JSON body or raw bytes, headers)


def answers(keys: TestKeys, *requests: Request, path: str = "/v1/contacts") -> Any:
    """(status, headers, JSON answer) per request, the contacts published, the metrics."""
    publisher = RecordingPublisher()

    async def run() -> tuple[list[tuple[int, Any, Any]], str]:
        auth = keys.authenticator(clock=lambda: NOW)
        app = ingest.create_app(Settings(), publisher=publisher, auth=auth)  # type: ignore[arg-type]
        out = []
        async with TestClient(TestServer(app)) as http:
            for body, headers in requests:
                data = body if isinstance(body, bytes) else orjson.dumps(body)
                answer = await http.post(path, data=data, headers=headers)
                out.append((answer.status, answer.headers, await answer.json()))
            metrics = await (await http.get("/metrics")).text()
        return out, metrics

    got, metrics = asyncio.run(run())
    return got, publisher.published, metrics


def signed(key_id: str, body: bytes, t: float = NOW, secret: str | None = None) -> Request:
    secret = secret if secret is not None else derive_secret(MASTER, key_id)
    headers = {
        "X-Ascolto-Key-Id": key_id,
        "X-Ascolto-Signature": signature_header(secret, int(t), body),
    }
    return body, headers


def test_a_bearer_key_posts_and_a_missing_one_is_refused_with_nothing_published() -> None:
    keys = TestKeys()
    _, token = keys.add()
    [ok, missing], published, _ = answers(keys, ([contact(1)], bearer(token)), ([contact(2)], {}))
    assert ok[0] == 202 and [c["source_id"] for c in published] == ["1"]
    status, headers, answer = missing
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="ascolto"'
    assert answer["error"].startswith("missing credentials: send Authorization: Bearer")


def test_unknown_malformed_and_revoked_keys_are_refused() -> None:
    keys = TestKeys()
    key, token = keys.add()
    assert token is not None
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    requests = [
        ([contact()], bearer(forged)),
        ([contact()], {"Authorization": f"Basic {token}"}),
        ([contact()], bearer("asc_nosuchkey_secret")),
        ([contact()], bearer("not-a-key")),
    ]
    got, published, metrics = answers(keys, *requests)
    assert [status for status, _, _ in got] == [401] * 4 and published == []
    assert got[0][2]["error"] == "unknown or revoked API key"
    assert got[1][2]["error"].startswith("malformed Authorization header")
    assert 'ascolto_ingest_requests_refused_total{reason="unauthenticated"} 4.0' in metrics

    with editing(keys.path) as stored:
        stored[key.key_id] = revoked(stored[key.key_id])
    [(status, _, answer)], published, _ = answers(keys, ([contact()], bearer(token)))
    assert (status, answer["error"], published) == (401, "unknown or revoked API key", [])


def test_a_signed_request_is_accepted_once_and_its_replay_refused() -> None:
    keys = TestKeys()
    key, _ = keys.add(kind=SIGNED)
    body = orjson.dumps([contact(7)])
    got, published, _ = answers(keys, signed(key.key_id, body), signed(key.key_id, body))
    assert [status for status, _, _ in got] == [202, 401]
    assert got[1][2]["error"] == "replayed request"
    assert [c["source_id"] for c in published] == ["7"]


def test_bad_signatures_old_timestamps_and_bearer_keys_cannot_sign() -> None:
    keys = TestKeys()
    key, _ = keys.add(kind=SIGNED)
    bearer_key, _ = keys.add()
    body = orjson.dumps(contact())
    tampered_body, headers = signed(key.key_id, body)
    requests = [
        (tampered_body.replace(b'"hi"', b'"ho"'), headers),
        signed(key.key_id, body, secret=derive_secret("another master", key.key_id)),
        signed(key.key_id, body, t=NOW - 301),
        signed(key.key_id, body, t=NOW + 301),
        signed(bearer_key.key_id, body),
        (body, {"X-Ascolto-Key-Id": key.key_id, "X-Ascolto-Signature": "v1=abc"}),
    ]
    got, published, _ = answers(keys, *requests)
    assert [status for status, _, _ in got] == [401] * 6 and published == []
    reasons = [answer["error"] for _, _, answer in got]
    assert reasons[:2] == ["bad signature", "bad signature"]
    assert all("timestamp more than 300 s" in r for r in reasons[2:4])
    assert reasons[4] == "unknown or revoked signing key"
    assert reasons[5].startswith("a signed request needs X-Ascolto-Key-Id")


def test_a_contact_outside_the_scope_refuses_the_whole_request_naming_the_field() -> None:
    keys = TestKeys()
    _, token = keys.add(brands=("Acme",), sources=("twitter",))
    batch = [contact(1, brand="ACME"), contact(2, brand="globex"), contact(3, source="mbox")]
    invalid_too = [contact(4, brand="globex"), {"source": "twitter"}]
    got, published, metrics = answers(
        keys, (batch, bearer(token)), (invalid_too, bearer(token)), ([contact(5)], bearer(token))
    )
    path = "/v1/contacts?partial=true"
    partial, published_partial, _ = answers(keys, (batch, bearer(token)), path=path)
    for status, _, answer in (got[0], partial[0]):
        assert status == 403 and "nothing was published" in answer["error"]
        assert answer["refused"] == [
            {"index": 1, "field": "brand", "value": "globex"},
            {"index": 2, "field": "source", "value": "mbox"},
        ]
    assert got[1][0] == 403  # scope is judged before validation
    assert got[2][0] == 202 and [c["source_id"] for c in published] == ["5"]
    assert published_partial == []
    assert 'ascolto_ingest_requests_refused_total{reason="out_of_scope"} 2.0' in metrics
    assert 'ascolto_ingest_contacts_rejected_total{reason="out_of_scope"} 5.0' in metrics


def test_a_key_over_its_rate_gets_429_with_retry_after_and_nothing_published() -> None:
    keys = TestKeys()
    _, token = keys.add(rate=2)
    _, unlimited = keys.add(rate=0)
    two, one, big = [contact(1), contact(2)], [contact(3)], [contact(n) for n in range(10, 15)]
    got, published, metrics = answers(
        keys, (two, bearer(token)), (one, bearer(token)), (big, bearer(unlimited))
    )
    assert [status for status, _, _ in got] == [202, 429, 202]
    assert got[1][1]["Retry-After"] == "1" and "rate limit" in got[1][2]["error"]
    assert sorted(c["source_id"] for c in published) == ["1", "10", "11", "12", "13", "14", "2"]
    assert 'ascolto_ingest_requests_refused_total{reason="rate_limited"} 1.0' in metrics


def test_a_batch_larger_than_the_rate_passes_once_and_the_debt_is_waited_out() -> None:
    keys = TestKeys()
    _, token = keys.add(rate=1)
    got, published, _ = answers(
        keys, ([contact(n) for n in range(4)], bearer(token)), ([contact(9)], bearer(token))
    )
    assert [status for status, _, _ in got] == [202, 429] and len(published) == 4
    assert got[1][1]["Retry-After"] == "4"  # 3 contacts of debt, then the one asked for


def test_credentials_are_judged_before_the_body() -> None:
    keys = TestKeys()
    _, token = keys.add()
    got, _, _ = answers(keys, (b"{not json", {}), (b"{not json", bearer(token)))
    assert [status for status, _, _ in got] == [401, 400]


def test_a_refusal_is_logged_at_debug_with_the_key_id_and_no_secret(caplog) -> None:
    keys = TestKeys()
    key, token = keys.add(rate=1)
    assert token is not None
    caplog.set_level(logging.DEBUG, logger="ascolto")
    answers(keys, ([contact(1), contact(2)], bearer(token)), ([contact(3)], bearer(token)))
    assert f"rate_limited), key {key.key_id}" in caplog.text
    assert token not in caplog.text and token.removeprefix(f"asc_{key.key_id}_") not in caplog.text
    stored = keys.path.read_text()
    assert token not in stored and key.token_hash in stored
    assert key.token_hash not in caplog.text


def test_the_replay_guard_forgets_by_time_and_stays_bounded() -> None:
    guard = ReplayGuard(tolerance_s=300, max_entries=3)
    assert guard.first_time("k", 1000, "a", now=1000.0)
    assert not guard.first_time("k", 1000, "a", now=1299.0)
    assert guard.first_time("k", 1000, "b", now=1299.0)  # another signature
    assert len(guard) == 2
    assert guard.first_time("k", 1301, "c", now=1301.0)  # t=1000's are past the clock check
    assert len(guard) == 1
    for t in range(1302, 1310):
        assert guard.first_time("k", t, "d", now=1310.0)
    assert len(guard) == 3 and not guard.first_time("k", 1309, "d", now=1310.0)
