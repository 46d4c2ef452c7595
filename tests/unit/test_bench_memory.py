from bench.monitor import Load, Monitor, growth_ratio
from bench.report import machine_load


def test_growth_compares_the_last_tenth_with_the_first() -> None:
    assert growth_ratio([100.0] * 10 + [150.0] * 80 + [200.0] * 10) == 2.0


def test_growth_since_the_middle_ignores_a_fill_at_the_start() -> None:
    filling_then_flat = [100.0 + 10 * i for i in range(20)] + [300.0] * 80
    assert growth_ratio(filling_then_flat) > 2
    assert growth_ratio(filling_then_flat, since=0.5) == 1.0


def test_a_leak_shows_in_the_second_half_too() -> None:
    leaking = [100.0 + i for i in range(100)]
    assert growth_ratio(leaking, since=0.5) > 1.2


def test_too_few_samples_give_no_ratio() -> None:
    assert growth_ratio([1.0] * 9) is None


def test_the_stack_load_is_told_per_phase() -> None:
    monitor = Monitor()
    monitor.loads += [
        Load(1.0, "stage", stack_cores=0.5, other_cores=0.0),
        Load(2.0, "stage", stack_cores=0.7, other_cores=0.0),
        Load(3.0, "e2e_paced", stack_cores=0.2, other_cores=0.9),
    ]
    load = machine_load(monitor)
    assert load["stack_cores_by_phase"] == {"stage": 0.6, "e2e_paced": 0.2}
    assert load["stack_cores_mean"] == 0.467
    assert load["busy"] is True  # strangers used 0.3 of a core on average
