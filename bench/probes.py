"""Threads that watch Elasticsearch during the end-to-end phase: how many contacts are
searchable, and when each sampled contact first became searchable."""

from __future__ import annotations

import contextlib
import threading
import time

from elasticsearch import Elasticsearch

from bench.phases import POLL_S, progress, tick


class CountPoller(threading.Thread):
    """Counts the searchable documents of an index every ``POLL_S`` until told to stop,
    saying every ``PROGRESS_S`` how many there are."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        super().__init__(name="bench-count", daemon=True)
        self.es, self.index = es, index
        self.counts: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(Exception):
                count = self.es.count(index=self.index)["count"]
                now = time.monotonic()
                if self.counts and tick(self.counts[-1][0], now):
                    progress(f"end to end: {count:,} contacts searchable")
                self.counts.append((now, count))
            self.stop.wait(POLL_S)

    @property
    def latest(self) -> int:
        return self.counts[-1][1] if self.counts else 0


class LatencyProbe(threading.Thread):
    """Polls Elasticsearch for sampled contact ids every ``interval_s``; a contact's latency is
    the moment it was first found minus its ``received_at`` (set by ingest, same clock)."""

    def __init__(self, es: Elasticsearch, index: str, interval_s: float = 0.075) -> None:
        super().__init__(name="bench-latency", daemon=True)
        self.es, self.index, self.interval_s = es, index, interval_s
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.found: list[tuple[float, float]] = []  # (seen at, monotonic; latency s)
        self.stop = threading.Event()
        self.errors = 0

    def add(self, ids: list[str]) -> None:
        with self._lock:
            self._pending.update(ids)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def run(self) -> None:
        while not self.stop.is_set():
            with self._lock:
                ids = list(self._pending)[:2000]
            if ids:
                self._look(ids)
            self.stop.wait(self.interval_s)

    def _look(self, ids: list[str]) -> None:
        asked, asked_mono = time.time(), time.monotonic()
        try:
            resp = self.es.search(
                index=self.index,
                query={"ids": {"values": ids}},
                source_includes=["received_at"],
                size=len(ids),
                filter_path=["hits.hits._id", "hits.hits._source"],
            )
        except Exception:
            self.errors += 1
            return
        seen = (asked + time.time()) / 2
        seen_mono = (asked_mono + time.monotonic()) / 2
        hits = resp.get("hits", {}).get("hits", [])
        with self._lock:
            for hit in hits:
                self._pending.discard(hit["_id"])
                received = hit["_source"]["received_at"] / 1000
                self.found.append((seen_mono, max(0.0, seen - received)))
