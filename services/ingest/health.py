"""Ingest's link to Kafka: the producer, connected in the background, and the ``kafka``
readiness check (streams.health, docs/deploying.md "Health endpoints").

Ingest serves HTTP before Kafka answers: it is live, not ready, and a POST gets 503 (retry)
until the producer is connected, rather than the process exiting when Kafka starts after it.
It is ready while Kafka acknowledges: a produce acknowledged within ``ACK_FRESH_S``, or else
(idle, or after a failed produce) a metadata round-trip that succeeds, at most every
``ROUND_TRIP_EVERY_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from services.ingest.publisher import Publisher
from streams.graceful import backoff_s
from streams.health import Cached, Verdict

log = logging.getLogger("ascolto.ingest")

ACK_FRESH_S = 10.0
ROUND_TRIP_EVERY_S = 5.0
ROUND_TRIP_TIMEOUT_S = 2.0

T = TypeVar("T")


class IngestKafka:
    def __init__(
        self,
        connect: Callable[[], Publisher],
        publisher: Publisher | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.publisher = publisher
        self.clock = clock
        self._connect = connect
        self._error = "connecting"
        self._acked_at: float | None = None
        self._round_trip = Cached(
            self._metadata, ROUND_TRIP_EVERY_S, ROUND_TRIP_TIMEOUT_S, clock=clock
        )

    async def connect(self) -> None:
        """Create the producer, again and again until Kafka answers."""
        attempt = 0
        while self.publisher is None:
            try:
                self.publisher = await in_daemon_thread(self._connect)
            except Exception as exc:
                attempt += 1
                self._error = f"{type(exc).__name__}: {exc}"
                log.warning("Kafka does not answer (%s); attempt %d", self._error, attempt)
                await asyncio.sleep(backoff_s(attempt))
        log.info("connected to Kafka")

    def acknowledged(self) -> None:
        self._acked_at = self.clock()

    def failed(self, reason: str) -> None:
        """A produce failed: not ready until a round-trip succeeds again."""
        self._acked_at = None
        self._round_trip.override(Verdict(False, f"a produce failed: {reason}"))

    async def check(self) -> Verdict:
        if self.publisher is None:
            return Verdict(False, f"no connection to Kafka yet ({self._error})")
        if self._acked_at is not None and self.clock() - self._acked_at < ACK_FRESH_S:
            return Verdict(True)
        return await self._round_trip()

    async def _metadata(self) -> Verdict:
        assert self.publisher is not None
        await self.publisher.metadata_round_trip()
        return Verdict(True)


def in_daemon_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """``work()`` in a thread of its own that does not hold up the process's exit: kafka-python
    may try to bootstrap for 30 s, and an executor's thread would be waited for on SIGTERM."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.cancelled():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except Exception as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="kafka-connect", daemon=True).start()
    return done
