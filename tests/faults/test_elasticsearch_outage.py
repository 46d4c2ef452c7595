"""Elasticsearch stopped for a minute or more under a steady load of contacts, then started
again, with a Prometheus of the test's own evaluating the stack's alert rules."""

from __future__ import annotations

import time

from bench.worker_metrics import scrape, total
from tests.support.faults import (
    Figures,
    PrivateStack,
    outage_under_load,
    still_running,
)
from tests.support.stack import Pipeline

FAULT = "Elasticsearch stopped for a minute"
PROMISE = (
    "ingest keeps accepting; the worker stays up, its index stage backs off and retries "
    "without committing, then drains the backlog: nothing lost, no document twice, nothing "
    "dead-lettered; the stall alert fires while nothing is indexed and resolves after."
)
# Of the stack's alerts, the one a minute without indexing sets off: its expression holds
# after a minute with input and nothing indexed (pending), and it fires a minute later, so
# Elasticsearch stays down until it has fired: about two minutes.
# ElasticsearchIndexingFailing looks at 5-minute windows, so a one-minute outage, with
# documents indexed just before it, never reaches it.
ALERT = "PipelineStalled"
MIN_DOWN_S = 60


def test_elasticsearch_stopped_loses_nothing_and_the_backlog_drains(
    figures: Figures, private_stack: PrivateStack, private_pipeline: Pipeline
) -> None:
    pipeline = private_pipeline
    retries = "ascolto_elasticsearch_bulk_retries_total"
    ready: list[float] = []
    with private_stack.prometheus(pipeline) as prometheus:

        def outage() -> None:
            prometheus.wait_quiet(ALERT, 180)
            stopped = time.monotonic()
            private_stack.down("elasticsearch")
            time.sleep(MIN_DOWN_S)
            prometheus.wait_firing(ALERT, 210)
            figures.extra[f"{ALERT} fired, after the stop (s)"] = (
                f"{time.monotonic() - stopped:.0f}"
            )
            private_stack.up("elasticsearch")
            ready.append(time.monotonic())
            figures.extra["Elasticsearch down, from its stop to ready again (s)"] = (
                f"{ready[0] - stopped:.0f}"
            )

        outage_under_load(pipeline, figures, outage)
        prometheus.wait_inactive(ALERT, 180)
        # waited for once every contact is indexed: an upper bound
        figures.extra[f"{ALERT} cleared, after Elasticsearch was back (s)"] = (
            f"{time.monotonic() - ready[0]:.0f}"
        )
    backed_off = total(scrape(pipeline.worker_metrics_url), retries)
    figures.extra["bulk requests retried (backoff)"] = f"{backed_off:.0f}"

    assert backed_off > 0
    assert figures.acknowledged == figures.posted == figures.indexed
    assert figures.duplicates == 0 and figures.dead_lettered == 0
    still_running(pipeline.ingest, pipeline.worker)
    figures.passed = True
