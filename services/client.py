"""Client side of the ingest API, used by importers, the demo and the tests."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ascolto.batches import bounded
from ascolto.config import IngestSettings

# Longer than ingest waits for Kafka (services.ingest.app.PUBLISH_WAIT_S): a slow Kafka
# gets a 503 and a retry rather than the client giving up first.
REQUEST_TIMEOUT_S = 90.0


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
    url: str, batch: list[dict[str, Any]], *, partial: bool = True, retries: int = 5
) -> tuple[int, dict[str, Any]]:
    """POST one batch; retry on 503 (Kafka unavailable), connection errors and timeouts."""
    target = f"{url}/v1/contacts" + ("?partial=true" if partial else "")
    body = orjson.dumps(batch)
    for attempt in range(retries + 1):
        request = urllib.request.Request(
            target, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as resp:
                return resp.status, _answer(resp.read())
        except urllib.error.HTTPError as err:
            if err.code != 503 or attempt == retries:
                return err.code, _answer(err.read())
        except OSError:  # URLError, ConnectionError, TimeoutError
            if attempt == retries:
                raise
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


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
) -> PostResult:
    """Post everything in batches (partial mode); collect ids and refusals with reasons."""
    result = PostResult()
    for batch in size_batches(((json_size(c), c) for c in contacts), batch_size, max_bytes):
        status, answer = post_batch(url, batch)
        if status == 202:
            result.accepted_ids.extend(answer["ids"])
            for refusal in answer["refused"]:
                result.refused.append({**refusal, "contact": batch[refusal["index"]]})
        else:
            raise RuntimeError(f"ingest answered {status}: {answer.get('error', answer)}")
    return result
