"""Kafka stopped for 20 seconds under a steady load of contacts, then started again."""

from __future__ import annotations

import time

from tests.support.faults import Figures, PrivateStack, outage_under_load, still_running
from tests.support.stack import Pipeline

FAULT = "Kafka stopped for 20 seconds"
PROMISE = (
    "ingest answers 503 for what Kafka did not acknowledge, and nothing it acknowledged is "
    "lost; ingest and the worker (which indexes) keep running without a restart; a client "
    "that retries what was refused gets every contact in exactly once."
)
DOWN_S = 20


def test_kafka_stopped_loses_nothing_acknowledged_and_a_retrying_client_gets_all_in_once(
    figures: Figures, private_stack: PrivateStack, private_pipeline: Pipeline
) -> None:
    pipeline = private_pipeline

    def outage() -> None:
        stopped = time.monotonic()
        private_stack.down("kafka")
        time.sleep(DOWN_S)
        private_stack.up("kafka")
        figures.extra["Kafka unreachable, from its stop to ready again (s)"] = (
            f"{time.monotonic() - stopped:.0f}"
        )

    load = outage_under_load(pipeline, figures, outage)

    assert set(load.statuses) <= {202, 503}, load.statuses
    assert load.acknowledged == load.ids()
    assert figures.indexed == figures.posted and figures.duplicates == 0
    assert figures.dead_lettered == 0
    still_running(pipeline.ingest, pipeline.worker)
    figures.passed = True
