"""Index lifecycle rules (ascolto.lifecycle): periods, names, retention, rollover."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto import lifecycle
from ascolto.lifecycle import LifecycleSettings
from streams.sinks.placement import series_of


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("when", "period", "label"),
    [
        (ms(2026, 12, 31, 23, 59), "month", "2026.12"),
        (ms(2027, 1, 1), "month", "2027.01"),
        (ms(2026, 12, 7, 5), "week", "2026.w50"),
        (ms(2027, 1, 1), "week", "2026.w53"),  # ISO: the year of the week's Thursday
        (ms(2026, 12, 7, 23, 59), "day", "2026.12.07"),
    ],
)
def test_a_time_falls_in_its_period(when: int, period: str, label: str) -> None:
    assert lifecycle.period_of(when, period) == label


@given(st.integers(0, 4_102_444_800_000), st.sampled_from(lifecycle.PERIODS))
def test_every_time_lies_within_the_bounds_of_its_period(when: int, period: str) -> None:
    start, end = lifecycle.bounds(lifecycle.period_of(when, period))
    assert start.timestamp() * 1000 <= when < end.timestamp() * 1000


def test_names_round_trip_and_other_names_are_not_the_alias_s() -> None:
    name = lifecycle.index_name("ascolto-contacts", "2026.12", 2)
    assert name == "ascolto-contacts-2026.12-000002"
    assert lifecycle.parse_index("ascolto-contacts", name) == ("2026.12", 2)
    assert lifecycle.parse_index("ascolto-contacts", "ascolto-contacts-v1") is None
    assert lifecycle.parse_index("ascolto-conversations", name) is None
    found = [name, "ascolto-contacts-2026.12-000001", "ascolto-contacts-2026.11-000007"]
    assert lifecycle.next_generation("ascolto-contacts", found, "2026.12").endswith("-000003")


def test_a_period_expires_its_retention_after_it_ends() -> None:
    assert lifecycle.expires_at("2026.11", 30) == datetime(2026, 12, 31, tzinfo=UTC)
    assert lifecycle.expires_at("2026.w53", 1) == datetime(2027, 1, 5, tzinfo=UTC)
    assert not lifecycle.expired("2026.11", 30, datetime(2026, 12, 30, tzinfo=UTC))
    assert lifecycle.expired("2026.11", 30, datetime(2026, 12, 31, 0, 1, tzinfo=UTC))


def test_the_current_and_next_periods_are_due() -> None:
    now = datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert lifecycle.due_periods(now, "month") == ["2026.12", "2027.01"]
    assert lifecycle.due_periods(now, "day") == ["2026.12.31", "2027.01.01"]


def test_each_kind_has_its_policy_and_a_time_field() -> None:
    settings = LifecycleSettings(sla_events_period="day", conversations_retention_days=9)
    assert settings.policy("sla-events") == lifecycle.Policy("day", 365)
    assert settings.policy("conversations") == lifecycle.Policy("month", 9)
    assert lifecycle.time_of("sla-events", {"deadline": 5}) == 5
    assert lifecycle.time_of("contacts", {"body": "x"}) is None


def test_rollover_is_due_by_documents_or_primary_size() -> None:
    settings = LifecycleSettings(rollover_max_docs=10, rollover_max_primary_gb=1)
    assert not settings.rollover_due(9, 999_999_999)
    assert settings.rollover_due(10, 0)
    assert settings.rollover_due(0, 1_000_000_000)


def test_a_label_of_no_period_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="not a period label: 'v1'"):
        lifecycle.bounds("v1")
    with pytest.raises(ValueError, match="unknown period 'year'"):
        lifecycle.period_of(0, "year")


def test_the_series_knows_each_period_s_write_index_and_leaves_out_what_left_the_alias() -> None:
    a = "ascolto-contacts"
    found = {
        f"{a}-v1": {a: {}},
        f"{a}-2026.12-000001": {a: {}, f"{a}-2026.12": {"is_write_index": False}},
        f"{a}-2026.12-000002": {a: {}, f"{a}-2026.12": {"is_write_index": True}},
        f"{a}-2026.11-000001": {a: {}, f"{a}-2026.11": {}},
        f"{a}-2026.10-000001": {},  # taken out of the read alias (a swap's old index)
    }
    series = series_of(a, found)
    assert series.writes == {"2026.12": f"{a}-2026.12-000002", "2026.11": f"{a}-2026.11-000001"}
    assert series.older("2026.12") == [f"{a}-2026.12-000001", f"{a}-v1"]
    assert series.older("2026.11") == [f"{a}-v1"]
    assert sorted(series.all()) == sorted(i for i in found if i != f"{a}-2026.10-000001")
