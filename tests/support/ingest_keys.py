"""For tests that drive the ingest app in process: a key store of their own, its keys, the
Authenticator that reads it, a publisher that records instead of Kafka, a contact, and
the client's urlopen scripted."""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ascolto.secret import Secret
from services import client
from services.ingest.auth.keys import ApiKey, editing, new_key, write_keys
from services.ingest.auth.store import LiveKeys
from services.ingest.auth.verify import Authenticator

MASTER = "test-master-signing-secret"


class TestKeys:
    """A key store of its own (in ``directory``, else a temporary one that lives as long as
    this object); ``add`` makes a key and gives its token (bearer keys)."""

    __test__ = False  # not a test class for pytest

    def __init__(self, directory: Path | None = None) -> None:
        if directory is None:
            self._dir = tempfile.TemporaryDirectory()
            directory = Path(self._dir.name)
        self.path = directory / "ingest-keys.json"
        write_keys(self.path, {})

    def add(self, name: str = "test", **fields: Any) -> tuple[ApiKey, str | None]:
        key, token = new_key(name, **fields)
        with editing(self.path) as keys:
            keys[key.key_id] = key
        return key, token

    def authenticator(self, clock: Callable[[], float] = time.time) -> Authenticator:
        return Authenticator(LiveKeys(self.path, check_every_s=0), Secret(MASTER), 300, clock)


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def metadata_round_trip(self) -> None:
        pass

    async def publish(self, contacts: list[dict[str, Any]]) -> None:
        self.published.extend(contacts)

    def close(self) -> None:
        pass


def contact(n: int = 1, brand: str = "acme", source: str = "twitter") -> dict[str, Any]:
    return {
        "source": source, "source_id": str(n), "channel": "social", "direction": "inbound",
        "brand": brand, "customer_handle": "@jane", "occurred_at": "2026-11-23T10:00:00Z",
        "body": "hi",
    }  # fmt: skip


class Answer(io.BytesIO):
    """What urlopen returns: a 202 with ``body``."""

    status = 202

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *_: object) -> None:
        pass


class ScriptedUrlopen:
    """services.client's urlopen raising or answering each outcome in turn; keeps the
    requests, their timeouts and the pauses taken between them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.requests: list[Any] = []
        self.timeouts: list[float] = []
        self.pauses: list[float] = []
        monkeypatch.setattr(client.urllib.request, "urlopen", self)
        monkeypatch.setattr(client.time, "sleep", self.pauses.append)

    def __call__(self, request: Any, timeout: float, context: Any = None) -> Answer:
        self.requests.append(request)
        self.timeouts.append(timeout)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return Answer(outcome)
