"""The client side of ingest's keys: the header on every request, 429 honoured, the key
found from the settings, and TLS on the listener with the client trusting its CA."""

from __future__ import annotations

import asyncio
import io
import ssl
import subprocess
import urllib.error
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ascolto.config import ConfigError, Settings
from ascolto.secret import Secret
from services import client
from services.client import IngestCredential, post_batch
from services.ingest import app as ingest
from services.ingest.auth.tls import server_context
from tests.support.ingest_keys import RecordingPublisher, ScriptedUrlopen, TestKeys, contact

TOKEN = "asc_abcdefgh_" + "s" * 43
CREDENTIAL = IngestCredential(Secret(TOKEN))


def refusal(status: int, retry_after: str | None) -> urllib.error.HTTPError:
    headers = Message()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = io.BytesIO(b'{"error": "slow down"}')
    return urllib.error.HTTPError("http://x", status, "refused", headers, body)


def test_every_request_carries_the_key_and_429_waits_its_retry_after(monkeypatch) -> None:
    outcomes = [refusal(429, "3"), refusal(429, "soon"), b'{"accepted": 1}']
    urlopen = ScriptedUrlopen(monkeypatch, outcomes)
    assert post_batch("http://x", [{}], credential=CREDENTIAL) == (202, {"accepted": 1})
    assert [r.get_header("Authorization") for r in urlopen.requests] == [f"Bearer {TOKEN}"] * 3
    assert urlopen.pauses == [3.0, 1.0]  # the header's seconds; a bad header: the usual backoff


def test_429_is_retried_a_bounded_number_of_times_then_answered(monkeypatch) -> None:
    urlopen = ScriptedUrlopen(monkeypatch, [refusal(429, "999")] * 3)
    status, answer = post_batch("http://x", [{}], retries=2, credential=CREDENTIAL)
    assert (status, answer) == (429, {"error": "slow down"})
    assert urlopen.pauses == [client.MAX_RETRY_AFTER_S] * 2


def test_the_key_comes_from_the_variable_else_the_local_file(tmp_path: Path) -> None:
    run = {"ASCOLTO_RUN_DIR": str(tmp_path)}
    with pytest.raises(ConfigError) as missing:
        IngestCredential.from_settings(Settings.from_env(run).ingest)
    assert "ASCOLTO_INGEST_KEY" in str(missing.value) and "keys local" in str(missing.value)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ingest.key").write_text("asc_local_key\n")
    local = IngestCredential.from_settings(Settings.from_env(run).ingest)
    assert local.headers() == {"Authorization": "Bearer asc_local_key"}
    given = Settings.from_env({**run, "ASCOLTO_INGEST_KEY": "asc_given_key"}).ingest
    assert IngestCredential.from_settings(given).token == Secret("asc_given_key")
    assert "asc_given_key" not in repr(IngestCredential.from_settings(given))


def tls_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"ASCOLTO_RUN_DIR": str(tmp_path), **env})


def test_tls_needs_both_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as one:
        server_context(tls_settings(tmp_path, ASCOLTO_INGEST_TLS_CERTFILE="c.pem").ingest.auth)
    assert str(one.value).startswith("ASCOLTO_INGEST_TLS_KEYFILE is not set")
    env = {"ASCOLTO_INGEST_TLS_CERTFILE": "/no/c.pem", "ASCOLTO_INGEST_TLS_KEYFILE": "/no/k.pem"}
    with pytest.raises(ConfigError) as unreadable:
        server_context(tls_settings(tmp_path, **env).ingest.auth)
    assert "cannot load them" in str(unreadable.value) and "\n" not in str(unreadable.value)
    assert server_context(tls_settings(tmp_path).ingest.auth) is None


def self_signed(tmp_path: Path) -> tuple[str, str]:
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_ingest_serves_https_and_the_client_trusts_its_ca(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    env = {"ASCOLTO_INGEST_TLS_CERTFILE": cert, "ASCOLTO_INGEST_TLS_KEYFILE": key}
    settings = tls_settings(tmp_path, **env)
    keys = TestKeys(tmp_path)
    _, token = keys.add()
    assert token is not None
    publisher = RecordingPublisher()

    async def run() -> tuple[tuple[int, Any], type[BaseException]]:
        app = ingest.create_app(settings, publisher=publisher, auth=keys.authenticator())  # type: ignore[arg-type]
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(settings.ingest.auth))
        await site.start()
        port = runner.addresses[0][1]
        url = f"https://127.0.0.1:{port}"
        try:
            trusted = IngestCredential(Secret(token), ca_file=cert)
            ok = await asyncio.to_thread(post_batch, url, [contact()], credential=trusted)
            untrusted = IngestCredential(Secret(token))
            with pytest.raises(urllib.error.URLError) as refused:
                await asyncio.to_thread(
                    post_batch, url, [contact()], retries=0, credential=untrusted
                )
            return ok, type(refused.value.reason)
        finally:
            await runner.cleanup()

    (status, _), reason = asyncio.run(run())
    assert status == 202 and len(publisher.published) == 1
    assert reason is ssl.SSLCertVerificationError  # the system's CAs do not know this one
