"""The workers' Prometheus metrics, scraped and summed, and the figures the bench reads
from them."""

from __future__ import annotations

import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.harness import all_workers
from streams.metrics import GC_GENERATIONS, STAGES, WAIT_STAGES
from tests.support.stack import Pipeline, metrics_url


def scrape_workers(pipe: Pipeline) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every worker's samples, summed: counters and histograms add up across processes."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for proc in all_workers(pipe):
        for key, value in scrape(metrics_url(proc)).items():
            out[key] = out.get(key, 0.0) + value
    return out


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(
        v
        for (n, lbls), v in samples.items()
        if n == name and all(dict(lbls).get(k) == val for k, val in labels.items())
    )


def documents_indexed(metrics: dict, pipe: Pipeline) -> dict[str, float]:
    """Documents the worker wrote, per index (updates of a document count again)."""
    e = pipe.settings.elastic
    return {
        name: total(metrics, "ascolto_documents_indexed_total", index=alias)
        for name, alias in (
            ("contacts", e.contacts),
            ("conversations", e.conversations),
            ("sla_events", e.sla_events),
        )
    }


def gc_pauses(metrics: dict) -> dict[str, dict[str, float]]:
    """The workers' garbage-collector passes over their whole life, per generation: how
    many, their seconds in all, and how many stopped the event loop for over 50 ms."""
    name = "ascolto_gc_pause_seconds"
    out = {}
    for generation in GC_GENERATIONS:
        passes = total(metrics, f"{name}_count", generation=generation)
        out[generation] = {
            "passes": passes,
            "seconds": round(total(metrics, f"{name}_sum", generation=generation), 3),
            "over_50ms": passes
            - total(metrics, f"{name}_bucket", generation=generation, le="0.05"),
        }
    return out


def paced_breakdown(before: dict, after: dict, seconds: float) -> dict[str, Any]:
    """Where the worker spent the paced phase, from its metrics' growth over it: per stage,
    batches, their mean size and duration, and the share of the phase spent in them (busy);
    the mean wait from ingest to each stream stage, and to indexed (the probe adds the refresh
    to it); GC pauses; customers' timelines expired meanwhile."""

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    stages = {}
    for stage in STAGES:
        # the indexer times its batch as "index" and sizes it per topic ("index_contacts" ...)
        timed = grew("ascolto_stage_duration_seconds_count", stage=stage)
        sized = grew("ascolto_batch_size_count", stage=stage)
        if not (timed or sized):
            continue
        busy_s = grew("ascolto_stage_duration_seconds_sum", stage=stage)
        stages[stage] = {
            "batches": timed or sized,
            "mean_size": (
                round(grew("ascolto_batch_size_sum", stage=stage) / sized, 1) if sized else None
            ),
            "mean_ms": round(1000 * busy_s / timed, 2) if timed else None,
            "over_100ms": (
                timed - grew("ascolto_stage_duration_seconds_bucket", stage=stage, le="0.1")
                if timed
                else None
            ),
            "busy": round(busy_s / seconds, 3),
        }
    waited = {}
    for stage in WAIT_STAGES:
        taken = grew("ascolto_stage_wait_seconds_count", stage=stage)
        if taken:
            waited[stage] = round(grew("ascolto_stage_wait_seconds_sum", stage=stage) / taken, 3)
    indexed = grew("ascolto_end_to_end_latency_seconds_count")
    gc_name = "ascolto_gc_pause_seconds"
    return {
        "stages": stages,
        "waited_mean_s": waited,  # from ingest to the start of the stage's batch
        "indexed_latency_mean_s": (
            round(grew("ascolto_end_to_end_latency_seconds_sum") / indexed, 3) if indexed else None
        ),
        "gc_busy": round(grew(f"{gc_name}_sum") / seconds, 4),
        "gc_over_50ms": grew(f"{gc_name}_count") - grew(f"{gc_name}_bucket", le="0.05"),
        "timelines_expired": grew("ascolto_customer_timelines_expired_total"),
    }


def histogram_mean(metrics: dict) -> float | None:
    count = total(metrics, "ascolto_end_to_end_latency_seconds_count")
    return total(metrics, "ascolto_end_to_end_latency_seconds_sum") / count if count else None
