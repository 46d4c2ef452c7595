from bench.monitor import growth_ratio


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
