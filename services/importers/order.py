"""Event-time order for the importers, in bounded memory.

An importer's first pass adds one key per row: (occurred_at, tie, row, offset), where tie
orders rows of the same instant (the tweet id; the row for mail: threading sorts equal times
by contact id, so their publishing order changes nothing) and offset is where the row starts
(a byte offset, a message's number). Its second pass reads the rows in key order. Up to
`CHUNK` keys are sorted in memory; beyond that, sorted runs go to temporary files at 32 bytes
a key and are merged, so the sort's memory stays near a chunk whatever the archive's size.

Why: the worker forgets a customer's conversations once their newest contact is the
retention older (docs/guarantees.md). Rows published newest first would reach it after the
state they need was dropped; published in event-time order, every contact finds what came
before it, and an archive's figures do not depend on how its rows were laid out.
"""

from __future__ import annotations

import heapq
import struct
import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import IO

CHUNK = 100_000
"""Keys sorted in memory before a run is spilled to a temporary file: about 220 bytes a key
in memory (22 MB), 32 on disk."""

_KEY = struct.Struct("<qqqq")
_READ_KEYS = 4096  # keys read from a run at a time


class EventOrder:
    """Keys of a first pass, given back in (occurred_at, tie, row) order. Rows are unique, so
    the order is total; with a tie that does not depend on the file (the tweet id), the same
    rows in any file order come back the same way."""

    def __init__(self, chunk: int | None = None) -> None:
        self._chunk = CHUNK if chunk is None else chunk
        if self._chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {self._chunk}")
        self._keys: list[tuple[int, int, int, int]] = []
        self._runs: list[IO[bytes]] = []

    def __enter__(self) -> EventOrder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def spilled_runs(self) -> int:
        return len(self._runs)

    def add(self, occurred_at: int, tie: int, row: int, offset: int) -> None:
        self._keys.append((occurred_at, tie, row, offset))
        if len(self._keys) >= self._chunk:
            self._spill()

    def _spill(self) -> None:
        self._keys.sort()
        run = tempfile.TemporaryFile()  # noqa: SIM115 - open until close()
        for start in range(0, len(self._keys), _READ_KEYS):
            run.write(b"".join(_KEY.pack(*k) for k in self._keys[start : start + _READ_KEYS]))
        run.seek(0)
        self._runs.append(run)
        self._keys = []

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """(row, offset) per key, in event-time order. Once only: the runs are read through."""
        self._keys.sort()
        runs = [_read_run(run) for run in self._runs]
        for _, _, row, offset in heapq.merge(*runs, self._keys):
            yield row, offset

    def close(self) -> None:
        for run in self._runs:
            run.close()
        self._runs = []
        self._keys = []


def _read_run(run: IO[bytes]) -> Iterator[tuple[int, int, int, int]]:
    while block := run.read(_KEY.size * _READ_KEYS):
        yield from _KEY.iter_unpack(block)
