"""Elasticsearch's disk over the flood-stage watermark: its indices turn read-only.

The watermarks make this cheap to cause: set below the disk's real use, they make
Elasticsearch take its disk for full. Set back, Elasticsearch releases the read-only block
itself once the disk is under the high watermark, with no one removing it by hand.
"""

from __future__ import annotations

import time
from typing import Any

from elasticsearch import Elasticsearch

from bench.worker_metrics import scrape, total
from tests.support.faults import Figures, PrivateStack, outage_under_load, still_running
from tests.support.stack import Pipeline
from tests.support.waiting import wait_until

FAULT = "Elasticsearch's disk over the flood-stage watermark"
PROMISE = (
    "ingest keeps accepting into Kafka; indexing waits (Elasticsearch's 429s are retried, "
    "nothing dead-lettered); the stall alert goes off; once the disk is under the watermarks "
    "Elasticsearch lifts the read-only block itself and everything lands, once."
)
# see test_elasticsearch_outage: the alert a minute without indexing sets off
ALERT = "PipelineStalled"
BLOCK = "index.blocks.read_only_allow_delete"
# used disk percentages under any real disk's use (the test checks it is over the last)
FULL = {"low": "1%", "high": "2%", "flood_stage": "3%"}
DISK = "cluster.routing.allocation.disk."


def test_disk_over_flood_stage_holds_indexing_and_everything_lands_after(
    figures: Figures, private_stack: PrivateStack, private_pipeline: Pipeline
) -> None:
    pipeline, es = private_pipeline, private_pipeline.es
    alias = pipeline.settings.elastic.contacts
    with private_stack.prometheus(pipeline) as prometheus:

        def outage() -> None:
            prometheus.wait_quiet(ALERT, 180)
            full_at = time.monotonic()
            settings = {"threshold_enabled": True, "info.update.interval": "10s"}
            _disk_settings(es, {**settings, **_watermarks(FULL)})
            wait_until(lambda: _blocked(es, alias), 60, f"{alias} to turn read-only")
            figures.extra["read-only block set after (s)"] = f"{time.monotonic() - full_at:.0f}"
            before = _acked(pipeline)
            prometheus.wait_firing(ALERT, 240)
            figures.extra[f"{ALERT} fired, after the disk filled (s)"] = (
                f"{time.monotonic() - full_at:.0f}"
            )
            figures.extra["acknowledged while read-only"] = _acked(pipeline) - before
            freed_at = time.monotonic()
            _disk_settings(es, _watermarks(dict.fromkeys(FULL)))  # back to the defaults
            wait_until(lambda: not _blocked(es, alias), 90, "Elasticsearch to lift the block")
            figures.extra["block lifted by Elasticsearch after (s)"] = (
                f"{time.monotonic() - freed_at:.0f}"
            )

        try:
            outage_under_load(pipeline, figures, outage)
        finally:  # the node's own settings: the disk threshold off
            _disk_settings(es, dict.fromkeys(["threshold_enabled", "info.update.interval"]))
            _disk_settings(es, _watermarks(dict.fromkeys(FULL)))
        prometheus.wait_inactive(ALERT, 180)
    retryable = total(
        scrape(pipeline.worker_metrics_url), "ascolto_elasticsearch_bulk_errors_total",
        kind="retryable",
    )  # fmt: skip
    figures.extra["bulk items refused and retried"] = f"{retryable:.0f}"

    assert figures.extra["acknowledged while read-only"] > 0
    assert retryable > 0
    assert figures.acknowledged == figures.posted == figures.indexed
    assert figures.duplicates == 0 and figures.dead_lettered == 0
    still_running(pipeline.ingest, pipeline.worker)
    figures.passed = True


def _watermarks(values: dict[str, Any]) -> dict[str, Any]:
    return {f"watermark.{name}": value for name, value in values.items()}


def _disk_settings(es: Elasticsearch, values: dict[str, Any]) -> None:
    """Cluster settings under cluster.routing.allocation.disk. (info.update.interval: under
    cluster.); None resets one."""
    named = {(f"cluster.{n}" if n.startswith("info.") else DISK + n): v for n, v in values.items()}
    es.cluster.put_settings(persistent=named)


def _blocked(es: Elasticsearch, index: str) -> bool:
    found = es.indices.get_settings(index=index, name=BLOCK, flat_settings=True)
    return any(s["settings"].get(BLOCK) == "true" for s in found.values())


def _acked(pipeline: Pipeline) -> int:
    return int(
        total(scrape(f"{pipeline.ingest_url}/metrics"), "ascolto_ingest_contacts_published_total")
    )
