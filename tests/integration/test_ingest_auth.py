"""Ingest's door on a real pipeline: refused posts publish nothing (the raw topic's end
offsets do not move), keys made and revoked with the CLI take effect without a restart, a
signed request is accepted once, and no token or secret reaches a log."""

from __future__ import annotations

import logging
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from ascolto.config import Settings
from ascolto.secret import Secret
from services.client import IngestCredential, post_batch
from services.ingest.auth.keys import key_id_of, token_hash
from services.ingest.auth.signing import signature_header
from services.observe import end_offsets
from tests.support.ingest_keys import contact
from tests.support.stack import ASCOLTO, Pipeline, make_pipeline, teardown_pipeline
from tests.support.waiting import wait_until

# Every secret the module sees, for the last test to look for in the logs.
SEEN: list[str] = []
CLI_OUTPUT: list[str] = []  # where the secrets are meant to be shown, once
CAPTURED: list[str] = []  # this module's own output and log records


@pytest.fixture(autouse=True)
def captured(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    out, err = capfd.readouterr()
    CAPTURED.append(out + err + caplog.text)


@pytest.fixture(scope="module")
def door(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """A pipeline with a key store, local key and signing secret of its own."""
    tmp = tmp_path_factory.mktemp("door")
    pipe = make_pipeline(base_settings, tmp, {"ASCOLTO_RUN_DIR": str(tmp / "run")})
    auth = pipe.settings.ingest.auth
    SEEN.append(auth.local_key_file.read_text().strip())
    SEEN.append(auth.local_signing_file.read_text().strip())
    try:
        yield pipe
    finally:
        teardown_pipeline(pipe)


def keys_cli(pipe: Pipeline, *args: str) -> str:
    done = subprocess.run(
        [ASCOLTO, "keys", *args], env=pipe.env, capture_output=True, text=True, timeout=60
    )
    CLI_OUTPUT.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr
    return done.stdout


def created_secret(pipe: Pipeline, *args: str) -> str:
    """`keys create ARGS`: the token or signing secret it prints, once, on its last line."""
    secret = keys_cli(pipe, "create", *args).splitlines()[-1]
    SEEN.append(secret)
    return secret


def raw_offsets(pipe: Pipeline) -> int:
    return sum(end_offsets(pipe.settings, pipe.settings.kafka.raw).values())


def post(
    pipe: Pipeline, body: Any, headers: dict[str, str], query: str = ""
) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    request = urllib.request.Request(
        f"{pipe.ingest_url}/v1/contacts{query}", data=data, method="POST",
        headers={"Content-Type": "application/json", **headers},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_unauthenticated_posts_are_refused_and_publish_nothing(door: Pipeline) -> None:
    before = raw_offsets(door)
    forged = "asc_" + (key_id_of(SEEN[0]) or "") + "_" + "x" * 43
    answers = [
        post(door, [contact(1)], {}),
        post(door, [contact(2)], bearer(forged)),
        post(door, [contact(3)], {"Authorization": "Basic dXNlcjpwYXNz"}),
    ]
    assert [status for status, _ in answers] == [401, 401, 401]
    assert answers[0][1]["error"].startswith("missing credentials")
    assert answers[1][1]["error"] == "unknown or revoked API key"
    local = IngestCredential(Secret(SEEN[0]))
    status, _ = post_batch(door.ingest_url, [contact(4)], partial=False, credential=local)
    assert status == 202  # the local key make_pipeline provisioned
    assert raw_offsets(door) == before + 1


def test_a_cli_key_works_without_a_restart_within_its_scope_until_revoked(door: Pipeline) -> None:
    token = created_secret(door, "--name", "it-twitter", "--brands", "Acme", "--sources", "twitter")
    key_id = key_id_of(token)
    assert key_id is not None and token_hash(token) not in CLI_OUTPUT[-1]
    in_scope = [contact(10, brand="ACME")]
    wait_until(lambda: post(door, in_scope, bearer(token))[0] == 202, 5, "the new key to work")

    before = raw_offsets(door)
    mixed = [contact(11), contact(12, brand="globex"), contact(13, source="mbox")]
    for query in ("", "?partial=true"):
        status, answer = post(door, mixed, bearer(token), query)
        assert status == 403
        refused = [(r["index"], r["field"]) for r in answer["refused"]]
        assert refused == [(1, "brand"), (2, "source")]
    assert raw_offsets(door) == before

    assert f"key {key_id} (it-twitter) revoked" in keys_cli(door, "revoke", key_id)
    started = time.monotonic()
    wait_until(lambda: post(door, in_scope, bearer(token))[0] == 401, 5, "the revocation")
    assert time.monotonic() - started < 3
    listing = keys_cli(door, "list")
    assert key_id in listing and token not in listing and token_hash(token) not in listing


def test_a_signed_request_is_accepted_once_and_its_replay_refused(door: Pipeline) -> None:
    secret = created_secret(door, "--name", "it-webhook", "--signed")
    key_id = next(
        line.split()[1] for line in CLI_OUTPUT[-1].splitlines() if line.startswith("key ")
    )
    body = orjson.dumps([contact(20)])
    t = int(time.time())
    headers = {
        "X-Ascolto-Key-Id": key_id,
        "X-Ascolto-Signature": signature_header(secret, t, body),
    }
    SEEN.append(headers["X-Ascolto-Signature"].split("v1=")[1])
    wait_until(lambda: post(door, body, headers)[0] == 202, 5, "the signed key to work")
    before = raw_offsets(door)
    assert post(door, body, headers) == (401, {"error": "replayed request"})
    tampered = body.replace(b'"hi"', b'"ho"')
    assert post(door, tampered, headers) == (401, {"error": "bad signature"})
    assert raw_offsets(door) == before


def test_no_token_or_secret_reaches_a_log(
    door: Pipeline, capfd: pytest.CaptureFixture[str]
) -> None:
    assert len(SEEN) >= 5, "run with the tests above"
    hashes = [token_hash(s) for s in SEEN]
    logs = {
        "ingest": door.ingest.log.read_text(errors="replace"),
        "worker": door.worker.log.read_text(errors="replace"),
        "this test's output": "".join(capfd.readouterr()),
    }
    assert "ingest keys: 1 active keys" in logs["ingest"]  # the log is the one ingest writes
    for where, text in logs.items():
        for secret in SEEN + hashes:
            assert secret not in text, f"a secret in {where}"
