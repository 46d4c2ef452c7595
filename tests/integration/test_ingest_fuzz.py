"""The ingest API against its contract (services/ingest/openapi.yaml), fuzzed by schemathesis.

A real ingest process on topics of its own, fuzzed by the schemathesis CLI through its served
``/openapi.json``: with a key allowed everything, with a key scoped to one brand and source
and rate-limited, with made-up credentials, and with a signature that is not the body's. In
every run: no 5xx, statuses, headers and bodies as documented, every 4xx a JSON ``error``,
and contacts.raw holds exactly the contacts that 202 answers accepted (their ids, counted):
a refused request published nothing. Each run prints how many cases it ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from ascolto.config import Settings
from ascolto.search import client
from ascolto.secret import Secret
from ascolto.topics import ensure_topics
from services.ingest.auth.keys import SIGNED
from services.observe import end_offsets, read_topic
from tests.support.ingest_keys import MASTER, TestKeys
from tests.support.stack import (
    Proc,
    free_port,
    isolated_names,
    local_proc,
    remove_topics_and_indices,
    wait_http,
)

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CHECKS_FILE = Path(__file__).parents[1] / "support" / "fuzz_checks.py"  # loaded by the CLI
SEED = 20261207  # the same cases every run; another seed explores others
# Cases per operation in the fuzzing phase (about 30 s for 300 here); the coverage phase adds
# its ~600 boundary cases (a field one character over its limit, each one missing ...).
EXAMPLES = {"any-key": 300, "scoped-key": 100, "no-key": 100, "forged-signature": 50}
# positive_data_acceptance: a contact the schema allows may still be invalid (422) for what
# no JSON schema says: occurred_at over a day ahead of ingest's clock, a contact_id not the
# one derived from (source, source_id), over 900 kB as JSON. negative_data_rejection: replaced
# by tests/support/fuzz_checks.py, which knows partial mode.
EXCLUDED = "positive_data_acceptance,negative_data_rejection"
# Refusals of data outside the schema: 413 a batch over its size; 403 and 429 come before
# validation (a key's scope, its rate).
CONFIG = """\
hooks = "{hooks}"

[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 413, 422, 429]
"""
MIN_CASES = 300  # in each run; fewer means schemathesis stopped early or tested little


@dataclass
class Ingest:
    settings: Settings
    proc: Proc
    tmp: Path
    tokens: dict[str, Secret]
    signer: str  # the id of a key for signed requests

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ingest.port}"


@dataclass
class Run:
    name: str
    returncode: int
    output: str
    entries: list[dict[str, Any]]  # the HAR report's: every request and its answer
    offsets_before: dict[int, int]  # contacts.raw's end offsets when the run started
    report: str  # the HAR report as written

    def posts(self) -> list[tuple[int, Any]]:
        """(status, JSON answer) of every POST /v1/contacts."""
        return [
            (e["response"]["status"], _json(e["response"]))
            for e in self.entries
            if e["request"]["method"] == "POST"
            and e["request"]["url"].split("?")[0].endswith("/v1/contacts")
        ]


def _json(response: dict[str, Any]) -> Any:
    try:
        return orjson.loads(response["content"].get("text") or "")
    except orjson.JSONDecodeError:
        return None


@pytest.fixture(scope="module")
def ingest(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingest]:
    """An ingest process alone (only what it publishes is checked: no worker), with a key
    store of its own."""
    tmp = tmp_path_factory.mktemp("fuzz")
    keys = TestKeys(tmp)
    made = {
        "any": keys.add("fuzz-any")[1],
        "scoped": keys.add("fuzz-scoped", brands=["acme"], sources=["twitter"], rate=5)[1],
    }
    signer = keys.add("fuzz-signer", kind=SIGNED)[0].key_id
    env = {
        **os.environ,
        **isolated_names(),
        "ASCOLTO_INGEST_PORT": str(free_port()),
        "ASCOLTO_INGEST_KEYS_FILE": str(keys.path),
        "ASCOLTO_INGEST_SIGNING_SECRET": MASTER,
    }
    settings = Settings.from_env(env)
    ensure_topics(settings.kafka)
    proc = local_proc("ingest", "serve-ingest", env, tmp)
    proc.start()
    try:
        wait_http(f"http://127.0.0.1:{settings.ingest.port}/readyz", b"true", 60, proc)
        tokens = {name: Secret(token or "") for name, token in made.items()}
        yield Ingest(settings, proc, tmp, tokens, signer)
    finally:
        proc.stop()
        remove_topics_and_indices(settings, client(settings.elastic))


def fuzz(ingest: Ingest, name: str, *options: str) -> Run:
    config = ingest.tmp / "schemathesis.toml"
    config.write_text(CONFIG.format(hooks=CHECKS_FILE))
    har = ingest.tmp / f"{name}.har.json"
    before = end_offsets(ingest.settings, ingest.settings.kafka.raw)
    command = [
        SCHEMATHESIS, "--config-file", str(config), "--no-color", "run",
        f"{ingest.url}/openapi.json", "--url", ingest.url,  # not the document's servers
        "--checks", "all", "--exclude-checks", EXCLUDED,
        "--max-examples", str(EXAMPLES[name]), "--seed", str(SEED), "--continue-on-failure",
        "--workers", "1", "--generation-database", "none",
        "--report", "har", "--report-har-path", str(har),
        *options,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=540, cwd=ingest.tmp)
    report = har.read_text() if har.exists() else '{"log": {"entries": []}}'
    entries = orjson.loads(report)["log"]["entries"]
    phases = [line.strip() for line in done.stdout.splitlines() if " (in " in line]
    print(f"\nschemathesis, {name}: {len(entries)} cases, exit {done.returncode}: {phases}")
    return Run(name, done.returncode, done.stdout + done.stderr, entries, before, report)


def check_run(ingest: Ingest, run: Run) -> Counter[int]:
    """What every run must hold; returns how often each status answered POST /v1/contacts."""
    failures = run.output[run.output.find("FAILURES") :][:8000]
    assert run.returncode == 0, f"schemathesis ({run.name}) found failures:\n{failures}"
    assert len(run.entries) >= MIN_CASES, f"{run.name}: only {len(run.entries)} cases ran"
    for entry in run.entries:
        request, response = entry["request"], entry["response"]
        status, what = response["status"], f"{request['method']} {request['url'][:100]}"
        assert status < 500, f"{run.name}: {status} for {what}: {response['content']}"
        if status >= 400:
            error = (_json(response) or {}).get("error")
            assert isinstance(error, str) and error.strip(), (
                f"{run.name}: {status} without a JSON error for {what}: {response['content']}"
            )

    posts = run.posts()
    accepted: Counter[str] = Counter()
    for status, answer in posts:
        if status == 202:
            assert answer["accepted"] == len(answer["ids"]), answer
            accepted.update(answer["ids"])
    records = read_topic(ingest.settings, ingest.settings.kafka.raw, since=run.offsets_before)
    on_topic = Counter(value["contact_id"] for _, value in records if value is not None)
    assert len(records) == on_topic.total() == accepted.total(), (
        f"{run.name}: contacts.raw grew by {len(records)} records, 202 answers accepted "
        f"{accepted.total()} contacts: a refused request published, or an accepted one not"
    )
    assert on_topic == accepted, f"{run.name}: contacts.raw got other ids than 202 answers gave"
    statuses = Counter(status for status, _ in posts)
    print(f"POST /v1/contacts, {run.name}: {dict(sorted(statuses.items()))}")
    return statuses


def fuzz_with_key(ingest: Ingest, name: str) -> Counter[int]:
    """A run with the key ``name`` as the credential, checked; the key is in no log after it."""
    token = ingest.tokens[name].reveal()
    run = fuzz(
        ingest, f"{name}-key", "--header", f"Authorization: Bearer {token}",
        "--generation-with-security-parameters", "false",  # no made-up signatures beside it
    )  # fmt: skip
    statuses = check_run(ingest, run)
    assert token not in ingest.proc.log.read_text(errors="replace"), "ingest logged the key"
    assert token not in run.output + run.report, "schemathesis showed the key"
    return statuses


def test_with_a_key_for_everything(ingest: Ingest) -> None:
    statuses = fuzz_with_key(ingest, "any")
    assert statuses[202] and statuses[422] and statuses[400] and statuses[413], statuses


def test_with_a_key_scoped_to_one_brand_and_source_and_rate_limited(ingest: Ingest) -> None:
    statuses = fuzz_with_key(ingest, "scoped")
    assert statuses[202] and statuses[403] and statuses[429], statuses


def test_without_a_valid_credential_everything_is_refused(ingest: Ingest) -> None:
    run = fuzz(ingest, "no-key")  # schemathesis makes up bearer tokens and signatures
    statuses = check_run(ingest, run)  # contacts.raw did not grow, as nothing was accepted
    assert set(statuses) == {401}, statuses


def test_a_signature_not_of_the_body_is_refused_whatever_the_body(ingest: Ingest) -> None:
    forged = f"t={int(time.time())},v1={'0' * 64}"  # a fresh timestamp: only the HMAC is wrong
    run = fuzz(
        ingest, "forged-signature", "--generation-with-security-parameters", "false",
        "--header", f"X-Ascolto-Key-Id: {ingest.signer}",
        "--header", f"X-Ascolto-Signature: {forged}",
    )  # fmt: skip
    assert set(check_run(ingest, run)) == {401}
    reasons = {answer["error"] for status, answer in run.posts() if status == 401}
    assert reasons == {"bad signature"}, reasons
