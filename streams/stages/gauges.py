"""The gauges timer: timelines held, the conversation gauges, and the consumer lag of the
stream stages' sources (the indexer reports its own, streams.indexer)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from streams.metrics import WorkerMetrics, export_lag
from streams.stages.thread import ThreadStage


class WorkerGauges:
    def __init__(self, stage: ThreadStage, metrics: WorkerMetrics, sources: Collection[str]):
        self.stage = stage
        self.metrics = metrics
        self.sources = sources
        self.lag_exported: set[tuple[str, str]] = set()

    def export(self, consumer: Any) -> None:
        """``consumer``: faust's, as the app holds it."""
        stage, metrics = self.stage, self.metrics
        metrics.timelines.set(len(stage.table))
        stage.gauges.export(metrics, stage.now_ms(), stage.watermark.now())
        # faust keeps its committed offsets privately; lag = end of log - committed
        committed = getattr(consumer, "_committed_offset", {})
        lags: dict[tuple[str, str], int] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp) if tp.topic in self.sources else None
            if highwater is not None and highwater >= 0:
                lags[tp.topic, str(tp.partition)] = max(0, highwater - (committed.get(tp) or 0))
        self.lag_exported = export_lag(metrics.consumer_lag, lags, self.lag_exported)
