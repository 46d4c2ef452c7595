"""Fakes of what the worker's stages are handed by faust: its table, its producer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

Log = list[tuple[str, str, bytes | None]]  # (what, topic or "table", key), in order


class DictTable:
    """faust's Table as the thread stage uses it."""

    def __init__(self, log: Log) -> None:
        self.data: dict[bytes, bytes] = {}
        self.log = log

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return self.data.items()

    def raw_update(self, items: Mapping[bytes, bytes]) -> None:
        for key in items:
            self.log.append(("write", "table", key))
        self.data.update(items)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __len__(self) -> int:
        return len(self.data)


class AcknowledgingProducer:
    """Records each send, and Kafka's acknowledgement of it a turn of the event loop later."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.values: dict[tuple[str, bytes | None], bytes | None] = {}

    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        self.log.append(("send", topic, key))
        self.values[topic, key] = value
        acked = asyncio.get_running_loop().create_future()

        def acknowledge() -> None:
            self.log.append(("ack", topic, key))
            acked.set_result(None)

        asyncio.get_running_loop().call_soon(acknowledge)
        return acked
