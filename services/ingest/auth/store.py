"""The keys ingest accepts, re-read when the store's file changes (no restart needed)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from services.ingest.auth.keys import ApiKey, KeyFileError, read_keys

log = logging.getLogger("ascolto.ingest.auth")

Signature = tuple[int, int, int]  # mtime_ns, size, inode


class LiveKeys:
    """The store as last read whole. Looked at again at most every ``check_every_s``; a
    file that no longer parses (a foreign editor's half-write) keeps the last good keys."""

    def __init__(
        self,
        path: Path,
        check_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Raises KeyFileError when the store cannot be read at start."""
        self.path = path
        self.check_every_s = check_every_s
        self._clock = clock
        self._checked = clock()
        self._keys = read_keys(path)
        self._signature = self._stat()
        self._warned: Signature | None = None
        self._loaded()

    def get(self, key_id: str) -> ApiKey | None:
        self._refresh()
        return self._keys.get(key_id)

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked < self.check_every_s:
            return
        self._checked = now
        try:
            signature = self._stat()
        except OSError:
            signature = (-1, -1, -1)
        if signature == self._signature:
            return
        try:
            keys = read_keys(self.path)
        except KeyFileError as exc:
            if self._warned != signature:
                self._warned = signature
                log.warning("ingest keys: %s: %s; keeping the %d keys read before",
                            self.path, exc, len(self._keys))  # fmt: skip
            return
        self._keys, self._signature = keys, signature
        self._loaded()

    def _stat(self) -> Signature:
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _loaded(self) -> None:
        active = sum(key.active for key in self._keys.values())
        log.info("ingest keys: %d active keys (%s)", active, self.path)
