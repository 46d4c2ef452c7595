"""What the worker's stages send Kafka records through: faust's own producer (``app.producer``,
the one faust flushes before it commits offsets), or a recording fake in unit tests."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol


class Producer(Protocol):
    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        /,
    ) -> Awaitable[Any]:
        """Buffer one record; the awaitable resolves once Kafka acknowledged it."""
