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
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from elasticsearch import ApiError, AsyncElasticsearch, ConnectionError, TransportError
from elasticsearch.serializer import OrjsonSerializer

from ascolto.batches import bounded
from ascolto.clients import elasticsearch_options
from ascolto.config import ElasticSettings
from streams.metrics import WorkerMetrics

if TYPE_CHECKING:
    from streams.sinks.placement import Placed, Placement

log = logging.getLogger("ascolto.sink")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# All that write() reads of a bulk response. Unfiltered, each item brings its index, id,
# version, shards and sequence numbers: hundreds of KB of JSON for Elasticsearch to build
# and for the worker to parse per bulk request.
BULK_RESPONSE_FIELDS = "errors,items.*.status,items.*.error"
# Elasticsearch refuses a request over 100 MB (http.max_content_length), and retrying the same
# request would never end: a bulk request holds at most this many bytes (a contact is at most
# about 1 MB, ascolto.validation).
MAX_BULK_BYTES = 32 * 1024 * 1024


def async_client(settings: ElasticSettings, **kwargs: Any) -> AsyncElasticsearch:
    """A client that parses responses with orjson rather than the standard json module."""
    options = elasticsearch_options(settings)
    return AsyncElasticsearch(serializer=OrjsonSerializer(), **options, **kwargs)


@dataclass(frozen=True)
class Action:
    """One bulk item: an index (doc set) or a delete (doc None); ``index`` the concrete
    index when placed (streams.sinks.placement), else the one written to is the alias."""

    doc_id: str
    doc: dict[str, Any] | None
    version: int | None = None
    index: str | None = None


@dataclass(frozen=True)
class Failed:
    action: Action
    status: int
    reason: str


Item = tuple[str, Action]  # (index, action): one line pair of a bulk request
Encoded = tuple[Item, bytes]  # and its lines in the request body


class ElasticSink:
    def __init__(
        self,
        es: AsyncElasticsearch,
        metrics: WorkerMetrics,
        *,
        max_actions: int = 2000,
        max_bytes: int = MAX_BULK_BYTES,
        max_retries: int = 8,
        base_backoff_s: float = 0.2,
        placement: Placement | None = None,
    ) -> None:
        self._es = es
        self._metrics = metrics
        self._max_actions = max_actions
        self._max_bytes = max_bytes
        self._max_retries = max_retries
        self._backoff = base_backoff_s
        self._placement = placement

    async def write(self, index: str, actions: Sequence[Action]) -> list[Failed]:
        """Write every action; return the permanently failed ones. Retries until then."""
        return (await self.write_many({index: actions}))[index]

    async def write_many(self, writes: Mapping[str, Sequence[Action]]) -> dict[str, list[Failed]]:
        """``write`` for several indices in the same bulk requests: a batch of the thread
        stage's outputs touches three indices, and one request costs less than three, here
        and in Elasticsearch. Returns each index's permanent failures. With a placement,
        ``writes`` names the kinds' aliases and each document goes to its concrete index;
        those it refuses are permanent failures."""
        permanent: dict[str, list[Failed]] = {index: [] for index in writes}
        if self._placement is not None:
            placed = await self._place(self._placement, writes)
            writes = placed.writes
            for index, refused in placed.refused.items():
                permanent[index] += refused
        items = [(index, a) for index, actions in writes.items() for a in _latest_per_id(actions)]
        encoded = [(item, _lines(*item)) for item in items]
        for chunk in bounded(((len(e[1]), e) for e in encoded), self._max_actions, self._max_bytes):
            for index, failed in await self._write_chunk(chunk):
                permanent[index].append(failed)
        return permanent

    async def _place(self, placement: Placement, writes: Mapping[str, Sequence[Action]]) -> Placed:
        """The placement's lookups, retried as a bulk request is: they are the first requests
        of a write, so an outage meets them first."""
        attempt = 0
        while True:
            try:
                return await placement.place(writes)
            except (ConnectionError, TransportError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status_code not in RETRYABLE_STATUS:
                    raise
                log.warning("placing documents in %s failed (%s); retrying",
                            ", ".join(sorted(writes)), exc)  # fmt: skip
            attempt += 1
            await self._back_off(attempt, writes)

    async def _back_off(self, attempt: int, indices: Iterable[str]) -> None:
        for index in set(indices):
            self._metrics.bulk_retries.labels(index).inc()
        # Past the bound we keep trying, slowly: giving up would lose data, and the offsets
        # stay uncommitted meanwhile, which is what the lag and stall alerts watch.
        await asyncio.sleep(self._backoff * 2 ** min(attempt, self._max_retries))

    async def _write_chunk(self, chunk: list[Encoded]) -> list[tuple[str, Failed]]:
        pending = chunk
        permanent: list[tuple[str, Failed]] = []
        attempt = 0
        while pending:
            try:
                # a pre-serialised body (orjson) skips the client's own, slower, JSON encoding
                resp = await self._es.bulk(
                    operations=b"".join(lines for _, lines in pending),  # type: ignore[arg-type]
                    filter_path=BULK_RESPONSE_FIELDS,
                )
            except (ConnectionError, TransportError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status_code not in RETRYABLE_STATUS:
                    raise  # not this request's moment: the caller's batch retry logs it
                retry: list[Encoded] = pending
                indices = ", ".join(sorted({index for (index, _), _ in retry}))
                log.warning("bulk to %s failed (%s); retrying %d items", indices, exc, len(retry))
            else:
                retry = []
                ok: Counter[str] = Counter()
                for encoded, item in zip(pending, resp["items"], strict=True):
                    index, action = encoded[0]
                    result = next(iter(item.values()))
                    status = result.get("status", 500)
                    if status < 300 or status == 409 or (status == 404 and action.doc is None):
                        ok[index] += 1  # 409: a newer revision is already there; 404: deleted
                    elif status in RETRYABLE_STATUS:
                        retry.append(encoded)
                        self._metrics.bulk_errors.labels(index, "retryable").inc()
                    else:
                        reason = _reason(result)
                        permanent.append((index, Failed(action, status, reason)))
                        self._metrics.bulk_errors.labels(index, "permanent").inc()
                        log.error(
                            "permanent bulk failure on %s/%s: %s", index, action.doc_id, reason
                        )
                for index, n in ok.items():
                    self._metrics.indexed.labels(index).inc(n)
            if not retry:
                break
            attempt += 1
            await self._back_off(attempt, (index for (index, _), _ in retry))
            pending = retry
        return permanent


def _latest_per_id(actions: Sequence[Action]) -> list[Action]:
    """Within one write keep only the newest action per id and index (fewer writes, no
    self-409)."""
    latest: dict[tuple[str | None, str], Action] = {}
    for action in actions:
        seen = latest.get((action.index, action.doc_id))
        if seen is None or (action.version or 0) >= (seen.version or 0):
            latest[(action.index, action.doc_id)] = action
    return list(latest.values())


def _lines(index: str, action: Action) -> bytes:
    """One action's lines of a bulk request body, each ending with a newline."""
    meta: dict[str, Any] = {"_index": action.index or index, "_id": action.doc_id}
    if action.version is not None:
        meta["version"] = action.version
        meta["version_type"] = "external_gte"
    if action.doc is None:
        return orjson.dumps({"delete": meta}) + b"\n"
    return orjson.dumps({"index": meta}) + b"\n" + orjson.dumps(action.doc) + b"\n"


def _reason(result: dict[str, Any]) -> str:
    error = result.get("error") or {}
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('reason', '')}"[:1000]
    return str(error)[:1000]
