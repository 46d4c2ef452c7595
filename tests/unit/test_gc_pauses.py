import gc
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Histogram

from ascolto.config import Settings
from streams.gc_pauses import tune, watch


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    thresholds, callbacks = gc.get_threshold(), list(gc.callbacks)
    yield
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks
    gc.unfreeze()


def pauses() -> tuple[CollectorRegistry, Histogram]:
    registry = CollectorRegistry()
    histogram = Histogram("gc_pause_seconds", "", ["generation"], registry=registry)
    return registry, histogram


def observed(registry: CollectorRegistry, generation: str) -> float:
    value = registry.get_sample_value("gc_pause_seconds_count", {"generation": generation})
    return value or 0.0


def test_every_collection_is_timed_under_its_generation() -> None:
    registry, histogram = pauses()
    watch(histogram)
    gc.collect(0)
    gc.collect(2)
    gc.collect(2)
    assert observed(registry, "0") >= 1
    assert observed(registry, "2") >= 2
    assert registry.get_sample_value("gc_pause_seconds_sum", {"generation": "2"}) > 0


def test_watching_again_replaces_the_previous_watch() -> None:
    first_registry, first = pauses()
    watch(first)
    second_registry, second = pauses()
    watch(second)
    gc.collect(2)
    assert observed(first_registry, "2") == 0
    assert observed(second_registry, "2") == 1


def test_tune_sets_the_young_threshold_and_freezes_what_exists() -> None:
    tune(50_000)
    assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_freeze_count() > 0


def test_the_worker_default_keeps_a_batch_out_of_the_old_generation() -> None:
    assert Settings.from_env({}).worker.gc_young_threshold == 50_000
    assert Settings.from_env({"ASCOLTO_GC_YOUNG_THRESHOLD": "700"}).worker.gc_young_threshold == 700


def test_a_threshold_that_would_switch_collection_off_is_refused() -> None:
    with pytest.raises(ValueError, match="ASCOLTO_GC_YOUNG_THRESHOLD must be positive"):
        tune(0)
