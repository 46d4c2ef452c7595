"""Elasticsearch refusing writes with 429: its write queue made tiny (a static node setting,
ASCOLTO_ES_WRITE_QUEUE_SIZE), and other writers keeping it full."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from elasticsearch import ApiError, Elasticsearch

from ascolto.config import Settings
from bench.worker_metrics import scrape, total
from tests.support.faults import Figures, PrivateStack, outage_under_load, still_running
from tests.support.stack import Pipeline, make_pipeline, teardown_pipeline
from tests.support.waiting import wait_until

FAULT = "Elasticsearch refusing writes with 429"
PROMISE = (
    "the index stage takes a 429 as backpressure: it retries, with backoff, what was "
    "refused, and dead-letters no good document; nothing is lost, nothing indexed twice."
)
RETRYABLE = "ascolto_elasticsearch_bulk_errors_total"
CROWD_S = 30  # how long other writers keep the queue full, at least


class Crowd:
    """Writers filling Elasticsearch's write queue: bulk requests to an index of their own
    with many shards (one write task each), from several threads, until stopped."""

    def __init__(self, es: Elasticsearch, threads: int = 4) -> None:
        self.es, self.index = es, f"faults-crowd-{uuid.uuid4().hex[:6]}"
        self.refusals: list[int] = []  # items refused with 429, a bulk request each
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, daemon=True) for _ in range(threads)]

    def start(self) -> None:
        self.es.indices.create(index=self.index, settings={"number_of_shards": 8})
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(60)
        self.es.indices.delete(index=self.index, ignore_unavailable=True)

    def _write(self) -> None:
        operations: list[dict[str, object]] = []
        for n in range(400):
            operations += [{"index": {"_index": self.index}}, {"n": n, "text": "crowd " * 20}]
        while not self._stop.is_set():
            try:
                answer = self.es.bulk(operations=operations)
            except ApiError as exc:  # the whole request refused: the queue was full at once
                if exc.status_code != 429:
                    raise
                self.refusals.append(len(operations) // 2)
                continue
            self.refusals.append(
                sum(1 for item in answer["items"] if item["index"].get("status") == 429)
            )


def test_elasticsearch_refusing_with_429_loses_and_dead_letters_nothing(
    figures: Figures, base_settings: Settings, private_stack: PrivateStack, tmp_path: Path
) -> None:
    with private_stack.elasticsearch_with(ASCOLTO_ES_WRITE_QUEUE_SIZE="1"):
        pipe = make_pipeline(base_settings, tmp_path, private_stack.pipeline_env())
        crowd = Crowd(pipe.es)
        try:

            def outage() -> None:
                crowd.start()
                started = time.monotonic()
                wait_until(
                    lambda: _refused(pipe) > 0 and time.monotonic() - started > CROWD_S,
                    180,
                    "the index stage to be refused with 429",
                )
                crowd.stop()

            outage_under_load(pipe, figures, outage)
            refused = _refused(pipe)
            figures.extra["bulk items refused with 429 and retried"] = f"{refused:.0f}"
            figures.extra["the other writers' items refused"] = sum(crowd.refusals)
            figures.extra["write queue size"] = 1

            assert refused > 0
            assert figures.acknowledged == figures.posted == figures.indexed
            assert figures.duplicates == 0 and figures.dead_lettered == 0
            permanent = total(scrape(pipe.worker_metrics_url), RETRYABLE, kind="permanent")
            assert permanent == 0
            still_running(pipe.ingest, pipe.worker)
            figures.passed = True
        finally:
            crowd.stop()
            teardown_pipeline(pipe)


def _refused(pipe: Pipeline) -> float:
    return total(scrape(pipe.worker_metrics_url), RETRYABLE, kind="retryable")
