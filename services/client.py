"""Client side of the ingest API, used by importers, the demo and the tests."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson


@dataclass
class PostResult:
    accepted_ids: list[str] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # {"index", "errors", "contact"}


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def post_batch(
    url: str, batch: list[dict[str, Any]], *, partial: bool = True, retries: int = 5
) -> tuple[int, dict[str, Any]]:
    """POST one batch; retry on 503 (Kafka unavailable) and connection errors."""
    target = f"{url}/v1/contacts" + ("?partial=true" if partial else "")
    body = orjson.dumps(batch)
    for attempt in range(retries + 1):
        request = urllib.request.Request(
            target, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                return resp.status, orjson.loads(resp.read())
        except urllib.error.HTTPError as err:
            if err.code != 503 or attempt == retries:
                return err.code, orjson.loads(err.read() or b"{}")
        except (urllib.error.URLError, ConnectionError):
            if attempt == retries:
                raise
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def post_contacts(
    url: str, contacts: Iterable[dict[str, Any]], *, batch_size: int = 500
) -> PostResult:
    """Post everything in batches (partial mode); collect ids and refusals with reasons."""
    result = PostResult()
    for batch in chunks(contacts, batch_size):
        status, answer = post_batch(url, batch)
        if status == 202:
            result.accepted_ids.extend(answer["ids"])
            for refusal in answer["refused"]:
                result.refused.append({**refusal, "contact": batch[refusal["index"]]})
        else:
            raise RuntimeError(f"ingest answered {status}: {answer.get('error', answer)}")
    return result
