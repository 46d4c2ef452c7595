"""The load generator: POSTs to ingest over loopback with aiohttp, as fast as it takes them
or paced at a fixed rate, recording when each request was answered.

Bodies are JSON-encoded before the clock starts (``encode_batches``), so the generator spends
its CPU on HTTP, not on building contacts: on a two-core machine it shares the CPU with the
services it measures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import aiohttp
import orjson

from services.client import default_credential

Body = tuple[bytes, int]  # the JSON body and how many contacts it holds
OnAnswer = Callable[[float, float, dict[str, Any]], None]  # (sent, answered, 202 answer)


@dataclass
class PostStats:
    requests: int = 0
    contacts: int = 0
    accepted: int = 0
    refused: int = 0
    retries: int = 0
    started: float = 0.0
    finished: float = 0.0
    progress: list[tuple[float, int]] = field(default_factory=list)  # (answered at, accepted)
    behind_s: float = 0.0  # paced only: the worst delay behind the schedule

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def per_s(self) -> float:
        return self.contacts / self.seconds if self.seconds > 0 else 0.0


def encode_batches(contacts: Iterable[dict[str, Any]], size: int) -> list[Body]:
    """Request bodies of ``size`` contacts; size 1 posts single contacts (a JSON object)."""
    bodies: list[Body] = []
    it = iter(contacts)
    while batch := list(islice(it, size)):
        payload = batch[0] if size == 1 else batch
        bodies.append((orjson.dumps(payload), len(batch)))
    return bodies


class Poster:
    def __init__(self, ingest_url: str, concurrency: int) -> None:
        self.url = f"{ingest_url}/v1/contacts?partial=true"
        self.concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Poster:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.concurrency, force_close=False),
            timeout=aiohttp.ClientTimeout(total=120),
            headers={"Content-Type": "application/json", **default_credential().headers()},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, body: Body, stats: PostStats, on_answer: OnAnswer | None) -> None:
        """One request, retried on 503 (Kafka busy) and connection errors, like services.client."""
        assert self._session is not None
        payload, n = body
        sent = time.monotonic()
        for attempt in range(6):
            try:
                async with self._session.post(self.url, data=payload) as resp:
                    raw = await resp.read()
                    if resp.status == 202:
                        answer = orjson.loads(raw)
                        break
                    if resp.status != 503:
                        raise RuntimeError(f"ingest answered {resp.status}: {raw[:300]!r}")
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt == 5:
                    raise
            stats.retries += 1
            await asyncio.sleep(0.2 * 2**attempt)
        else:
            raise RuntimeError("ingest kept answering 503")
        answered = time.monotonic()
        stats.requests += 1
        stats.contacts += n
        stats.accepted += answer["accepted"]
        stats.refused += len(answer["refused"])
        stats.progress.append((answered, stats.accepted))
        if on_answer is not None:
            on_answer(sent, answered, answer)

    async def flood(self, bodies: list[Body], on_answer: OnAnswer | None = None) -> PostStats:
        """Everything, as fast as ingest answers, ``concurrency`` requests in flight."""
        stats = PostStats()
        queue = iter(bodies)

        async def lane() -> None:
            for body in queue:  # lanes share the iterator: each body is sent once
                await self.post(body, stats, on_answer)

        stats.started = time.monotonic()
        await asyncio.gather(*(lane() for _ in range(self.concurrency)))
        stats.finished = time.monotonic()
        return stats

    async def paced(
        self, bodies: list[Body], rate_per_s: float, on_answer: OnAnswer | None = None
    ) -> PostStats:
        """Open loop: body i leaves when the contacts before it are due at ``rate_per_s``."""
        stats = PostStats()
        limit = asyncio.Semaphore(self.concurrency)
        tasks: list[asyncio.Task[None]] = []

        async def send(body: Body) -> None:
            async with limit:
                await self.post(body, stats, on_answer)

        stats.started = start = time.monotonic()
        due = 0.0
        for body in bodies:
            delay = start + due / rate_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                stats.behind_s = max(stats.behind_s, -delay)
            tasks.append(asyncio.create_task(send(body)))
            due += body[1]
        await asyncio.gather(*tasks)
        stats.finished = time.monotonic()
        return stats
