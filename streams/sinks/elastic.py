"""Bulk writes to Elasticsearch that are safe to replay.

* ``_id`` is the record's own id (contact_id, conversation_id, event_id), so a replay
  overwrites instead of duplicating;
* documents carry the ``revision`` of the state that produced them and are written with
  ``version_type=external_gte``: a late replay of an older state never overwrites a newer one
  (its 409 conflict is the expected, successful outcome);
* per-item failures are sorted: 429 and 5xx are retried with exponential backoff (bounded),
  anything else is permanent and handed back to the caller for the dead-letter topic.

The caller awaits ``write`` before its batch is acknowledged, so Kafka offsets are only
committed for what Elasticsearch has accepted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from elasticsearch import AsyncElasticsearch, ConnectionError, TransportError
from elasticsearch.serializer import OrjsonSerializer

from streams.metrics import WorkerMetrics

log = logging.getLogger("ascolto.sink")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# All that write() reads of a bulk response. Unfiltered, each item brings its index, id,
# version, shards and sequence numbers: hundreds of KB of JSON for Elasticsearch to build
# and for the worker to parse per bulk request.
BULK_RESPONSE_FIELDS = "errors,items.*.status,items.*.error"


def async_client(url: str, **kwargs: Any) -> AsyncElasticsearch:
    """A client that parses responses with orjson rather than the standard json module."""
    return AsyncElasticsearch(url, serializer=OrjsonSerializer(), **kwargs)


@dataclass(frozen=True)
class Action:
    """One bulk item: an index (doc set) or a delete (doc None)."""

    doc_id: str
    doc: dict[str, Any] | None
    version: int | None = None


@dataclass(frozen=True)
class Failed:
    action: Action
    status: int
    reason: str


class ElasticSink:
    def __init__(
        self,
        es: AsyncElasticsearch,
        metrics: WorkerMetrics,
        *,
        max_actions: int = 2000,
        max_retries: int = 8,
        base_backoff_s: float = 0.2,
    ) -> None:
        self._es = es
        self._metrics = metrics
        self._max_actions = max_actions
        self._max_retries = max_retries
        self._backoff = base_backoff_s

    async def write(self, index: str, actions: Sequence[Action]) -> list[Failed]:
        """Write every action; return the permanently failed ones. Retries until then."""
        permanent: list[Failed] = []
        for start in range(0, len(actions), self._max_actions):
            chunk = _latest_per_id(actions[start : start + self._max_actions])
            permanent.extend(await self._write_chunk(index, chunk))
        return permanent

    async def _write_chunk(self, index: str, chunk: list[Action]) -> list[Failed]:
        pending = chunk
        permanent: list[Failed] = []
        attempt = 0
        while pending:
            try:
                # a pre-serialised body (orjson) skips the client's own, slower, JSON encoding
                body = _ndjson(index, pending)
                resp = await self._es.bulk(
                    operations=body,  # type: ignore[arg-type]
                    filter_path=BULK_RESPONSE_FIELDS,
                )
            except (ConnectionError, TransportError) as exc:
                retry: list[Action] = pending
                log.warning("bulk to %s failed (%s); retrying %d items", index, exc, len(retry))
            else:
                retry = []
                ok = 0
                for action, item in zip(pending, resp["items"], strict=True):
                    result = next(iter(item.values()))
                    status = result.get("status", 500)
                    if status < 300 or status == 409 or (status == 404 and action.doc is None):
                        ok += 1  # 409: a newer revision is already there; 404: already deleted
                    elif status in RETRYABLE_STATUS:
                        retry.append(action)
                        self._metrics.bulk_errors.labels(index, "retryable").inc()
                    else:
                        reason = _reason(result)
                        permanent.append(Failed(action, status, reason))
                        self._metrics.bulk_errors.labels(index, "permanent").inc()
                        log.error(
                            "permanent bulk failure on %s/%s: %s", index, action.doc_id, reason
                        )
                self._metrics.indexed.labels(index).inc(ok)
            if not retry:
                break
            attempt += 1
            self._metrics.bulk_retries.labels(index).inc()
            # Past the bound we keep trying, slowly: giving up would lose data, and the offsets
            # stay uncommitted meanwhile, which is what the lag and stall alerts watch.
            delay = self._backoff * 2 ** min(attempt, self._max_retries)
            await asyncio.sleep(delay)
            pending = retry
        return permanent


def _latest_per_id(actions: Sequence[Action]) -> list[Action]:
    """Within one bulk request keep only the newest action per id (fewer writes, no self-409)."""
    latest: dict[str, Action] = {}
    for action in actions:
        seen = latest.get(action.doc_id)
        if seen is None or (action.version or 0) >= (seen.version or 0):
            latest[action.doc_id] = action
    return list(latest.values())


def _ndjson(index: str, actions: Sequence[Action]) -> bytes:
    lines: list[bytes] = []
    for action in actions:
        meta: dict[str, Any] = {"_index": index, "_id": action.doc_id}
        if action.version is not None:
            meta["version"] = action.version
            meta["version_type"] = "external_gte"
        if action.doc is None:
            lines.append(orjson.dumps({"delete": meta}))
        else:
            lines.append(orjson.dumps({"index": meta}))
            lines.append(orjson.dumps(action.doc))
    lines.append(b"")
    return b"\n".join(lines)


def _reason(result: dict[str, Any]) -> str:
    error = result.get("error") or {}
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"[:1000]
    return str(error)[:1000]
