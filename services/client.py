"""Client side of the ingest API, used by importers, the demo and the tests."""

from __future__ import annotations

import functools
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ascolto.batches import bounded
from ascolto.config import ConfigError, IngestSettings, Settings
from ascolto.secret import Secret
from services.ingest.auth.keys import read_secret_file

# Longer than ingest waits for Kafka (services.ingest.app.PUBLISH_WAIT_S): a slow Kafka
# gets a 503 and a retry rather than the client giving up first.
REQUEST_TIMEOUT_S = 90.0
# The longest a 429's Retry-After is waited before a retry.
MAX_RETRY_AFTER_S = 60.0
NO_KEY = (
    "no ingest API key: set ASCOLTO_INGEST_KEY or ASCOLTO_INGEST_KEY_FILE, or run "
    "`ascolto keys local` (make up does) to make {path}"
)


@dataclass(frozen=True)
class IngestCredential:
    """The API key every request carries, and the CA an ``https`` ingest is checked with."""

    token: Secret
    ca_file: str = ""

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> IngestCredential:
        """ASCOLTO_INGEST_KEY (or its _FILE), else the local key file; ConfigError if none."""
        auth = settings.auth
        token = auth.key or read_secret_file(auth.local_key_file)
        if not token:
            raise ConfigError(NO_KEY.format(path=auth.local_key_file))
        return cls(token, auth.ca_file)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.reveal()}"}

    def ssl_context(self, url: str) -> ssl.SSLContext | None:
        if not url.startswith("https:"):
            return None
        return ssl.create_default_context(cafile=self.ca_file or None)


@functools.cache
def default_credential() -> IngestCredential:
    """For callers that pass none (tests, the bench): the key this environment names, read
    once. The product's commands build theirs from the settings they were given."""
    return IngestCredential.from_settings(Settings.from_env().ingest)


@dataclass
class PostResult:
    accepted_ids: list[str] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # {"index", "errors", "contact"}


def json_size(contact: Any) -> int:
    """Bytes of the contact as JSON, as post_batch encodes it."""
    return len(orjson.dumps(contact))


def size_batches(
    sized: Iterable[tuple[int, Any]], max_count: int, max_bytes: int
) -> Iterator[list[Any]]:
    """Items of (JSON size, item) pairs in batches whose JSON array stays within max_bytes.

    An item too large on its own still gets a batch of its own (ingest will say 413).
    """
    return bounded(sized, max_count, max_bytes, framing=2, separator=1)  # [a,b]


def post_batch(
    url: str,
    batch: list[dict[str, Any]],
    *,
    partial: bool = True,
    retries: int = 5,
    credential: IngestCredential | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST one batch; retry on 503 (Kafka unavailable), 429 (the key's rate: after its
    Retry-After), connection errors and timeouts."""
    credential = credential or default_credential()
    target = f"{url}/v1/contacts" + ("?partial=true" if partial else "")
    body = orjson.dumps(batch)
    headers = {"Content-Type": "application/json", **credential.headers()}
    context = credential.ssl_context(url)
    for attempt in range(retries + 1):
        request = urllib.request.Request(target, data=body, headers=headers, method="POST")
        pause = 0.5 * 2**attempt
        try:
            with urllib.request.urlopen(
                request, timeout=REQUEST_TIMEOUT_S, context=context
            ) as resp:
                return resp.status, _answer(resp.read())
        except urllib.error.HTTPError as err:
            if err.code not in (429, 503) or attempt == retries:
                return err.code, _answer(err.read())
            if err.code == 429:
                pause = _retry_after(err.headers.get("Retry-After"), pause)
        except OSError:  # URLError, ConnectionError, TimeoutError
            if attempt == retries:
                raise
        time.sleep(pause)
    raise AssertionError("unreachable")


def _retry_after(header: str | None, otherwise: float) -> float:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(header or "")))
    except ValueError:
        return otherwise


def _answer(body: bytes) -> dict[str, Any]:
    """The JSON answer; a non-JSON one (a proxy's or aiohttp's own page) as {"error": text}."""
    try:
        answer = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict):
        return answer
    return {"error": body.decode("utf-8", errors="replace").strip()[:500] or "(empty answer)"}


def post_contacts(
    url: str,
    contacts: Iterable[dict[str, Any]],
    *,
    batch_size: int = 500,
    max_bytes: int = IngestSettings.max_body_bytes,
    credential: IngestCredential | None = None,
) -> PostResult:
    """Post everything in batches (partial mode); collect ids and refusals with reasons."""
    result = PostResult()
    for batch in size_batches(((json_size(c), c) for c in contacts), batch_size, max_bytes):
        status, answer = post_batch(url, batch, credential=credential)
        if status == 202:
            result.accepted_ids.extend(answer["ids"])
            for refusal in answer["refused"]:
                result.refused.append({**refusal, "contact": batch[refusal["index"]]})
        else:
            raise RuntimeError(f"ingest answered {status}: {answer.get('error', answer)}")
    return result
