from bench.workload import CONTACTS_PER_DAY, START_MS, Workload


def occurred(workload: Workload) -> list[int]:
    """Event times in ms: malformed contacts include "yesterday" and times in seconds."""
    return [
        c["occurred_at"]
        for c in workload.contacts()
        if isinstance(c["occurred_at"], int) and c["occurred_at"] > 10**12
    ]


def test_the_same_size_seed_and_source_give_the_same_contacts() -> None:
    assert list(Workload(500, 3).contacts()) == list(Workload(500, 3).contacts())
    assert list(Workload(500, 3).contacts()) != list(Workload(500, 4).contacts())


def test_event_time_advances_about_a_day_per_contacts_per_day() -> None:
    workload = Workload(5000, 1)
    times = occurred(workload)
    assert min(times) >= START_MS
    days = (workload.summary.last_occurred_ms - START_MS) / 86_400_000
    assert 0.3 < days / (5000 / CONTACTS_PER_DAY) < 3


def test_a_continuing_workload_starts_after_the_last_event_of_the_first() -> None:
    first = Workload(2000, 1)
    first_times = occurred(first)
    assert first.summary.last_occurred_ms == max(first_times)
    after = Workload(500, 2, source="next", start_ms=first.summary.last_occurred_ms)
    assert min(occurred(after)) > first.summary.last_occurred_ms
