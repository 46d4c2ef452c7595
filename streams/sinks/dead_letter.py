"""Dead letters: what failed, why, and the original bytes, on the contacts.dlq topic."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from faust.types import EventT

from schemas import codec
from streams.metrics import WorkerMetrics
from streams.sinks.producer import Producer

# Headers of a dead letter: the original record's key (a replay republishes it under that key),
# and, on a record `ascolto dlq replay` republished, the dead letter it replays
# ("<dlq partition>:<offset>"), kept on the new dead letter when that record fails again.
SOURCE_KEY_HEADER = "ascolto-source-key"
REPLAY_HEADER = "ascolto-replay-of"


def header(message: SourceMessage, name: str) -> bytes | None:
    headers = getattr(message, "headers", None) or []  # the unit tests' fakes have none
    items = headers.items() if isinstance(headers, Mapping) else headers
    return next((value for key, value in items if key == name), None)


class SourceMessage(Protocol):
    """A consumed Kafka record: faust's ``Message`` and aiokafka's ``ConsumerRecord`` both are."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> Any: ...
    @property
    def value(self) -> Any: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None: ...


@dataclass(frozen=True)
class DeadLetter:
    stage: str
    reason_code: str  # bounded: decode, schema, validation, enrichment, index_mapping, too_late
    reason: str
    source_topic: str
    source_partition: int
    source_offset: int
    original: bytes
    contact_id: str | None = None
    source_key: bytes | None = None
    replay_of: bytes | None = None

    @classmethod
    def of_event(
        cls, event: EventT, stage: str, reason_code: str, reason: str, contact_id: str | None = None
    ) -> DeadLetter:
        return cls.of_message(event.message, stage, reason_code, reason, contact_id)

    @classmethod
    def of_message(
        cls,
        message: SourceMessage,
        stage: str,
        reason_code: str,
        reason: str,
        contact_id: str | None = None,
    ) -> DeadLetter:
        return cls(
            stage=stage,
            reason_code=reason_code,
            reason=reason,
            source_topic=message.topic,
            source_partition=message.partition,
            source_offset=message.offset,
            original=message.value if isinstance(message.value, bytes) else b"",
            contact_id=contact_id,
            source_key=message.key if isinstance(message.key, bytes) else None,
            replay_of=header(message, REPLAY_HEADER),
        )

    @property
    def key(self) -> bytes | None:
        return (self.contact_id or "").encode() or None

    def headers(self) -> list[tuple[str, bytes]]:
        found = ((SOURCE_KEY_HEADER, self.source_key), (REPLAY_HEADER, self.replay_of))
        return [(name, value) for name, value in found if value is not None]

    def encode(self) -> bytes:
        return codec().encode(
            "DeadLetter",
            {
                "reason": self.reason,
                "reason_code": self.reason_code,
                "stage": self.stage,
                "source_topic": self.source_topic,
                "source_partition": self.source_partition,
                "source_offset": self.source_offset,
                "contact_id": self.contact_id,
                "original": self.original,
                "failed_at": int(time.time() * 1000),
            },
        )


@dataclass(frozen=True)
class DeadLetterSender:
    """The stream stages' way to the dead-letter topic: through their producer, counted."""

    producer: Producer
    topic: str
    metrics: WorkerMetrics

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            headers = letter.headers()
            await self.producer.send(self.topic, letter.key, letter.encode(), None, None, headers)
            self.metrics.dead_lettered.labels(letter.stage, letter.reason_code).inc()
