"""Holidays that recur every year ('--12-25') beside dated ones ('2025-12-25')."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sla.calendar import BusinessHours
from streams.sla.clock import deadline
from streams.sla.policy import PolicyError, parse_policy
from streams.sla.syntax import MonthDay, parse_holiday

H = 3600
OFFICE_WEEK = (((540, 1080),),) * 5 + ((), ())  # mon-fri 09:00-18:00


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def policy_with(holidays: str) -> str:
    return f"""
version: 1
rules:
  - {{name: default, targets: {{first_response: 1h, next_response: 1h, resolution: 1d}}}}
business_hours:
  rome:
    time_zone: Europe/Rome
    weekly: {{mon-fri: "09:00-18:00"}}
    holidays: {holidays}
"""


def test_both_spellings_parse():
    assert parse_holiday("--12-25") == MonthDay(12, 25)
    assert str(parse_holiday(" --01-06 ")) == "--01-06"
    assert parse_holiday("2025-12-25") == date(2025, 12, 25)
    assert parse_holiday(date(2026, 4, 6)) == date(2026, 4, 6)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("12-25", "'12-25' has no year; write 2025-12-25 for one day, or '--12-25'"),
        ("25/12", "'25/12' has no year"),
        ("--02-29", "'--02-29' recurs only in leap years; list the dates instead, e.g. 2028-02-29"),
        ("--04-31", "'--04-31' is not a day of the year"),
        ("--13-01", "'--13-01' is not a day of the year"),
        ("Christmas", "expected a holiday, got 'Christmas'"),
        (1225, "expected a holiday, got 1225"),
    ],
)
def test_bad_holidays_say_what_to_write(value, says):
    with pytest.raises(ValueError) as caught:
        parse_holiday(value)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_yearly_holiday_closes_that_day_every_year_and_a_dated_one_only_its_year():
    policy = parse_policy(policy_with('["--12-25", 2025-12-26]'), "sla.yaml")
    rome = policy.calendar_for("rome")
    assert isinstance(rome, BusinessHours)
    # Christmas 2025 (Thu) and Boxing Day 2025 (Fri) closed: Wed 17:00 + 2h -> Mon 10:00
    assert deadline(ms("2025-12-24T17:00+01:00"), 2 * H, rome) == ms("2025-12-29T10:00+01:00")
    # 2026: Christmas (Fri) closed, but Boxing Day is a Saturday anyway; 2027: Sat
    assert deadline(ms("2026-12-24T17:00+01:00"), 2 * H, rome) == ms("2026-12-28T10:00+01:00")
    # 2029: Christmas is a Tuesday, Boxing Day (not dated for 2029) is open
    assert deadline(ms("2029-12-24T17:00+01:00"), 2 * H, rome) == ms("2029-12-26T10:00+01:00")


def test_a_yearly_holiday_in_a_daylight_saving_week():
    """Europe/Rome springs forward on Sunday 2025-03-30 and 2026-03-29. A yearly holiday on
    March 31 (Monday in 2025, Tuesday in 2026): the clock skips it, in summer time after."""
    rome = BusinessHours("Europe/Rome", OFFICE_WEEK, yearly=frozenset({(3, 31)}))
    # Fri 17:00 CET: 1h on Friday, Monday closed, Tuesday 09:00 CEST + 2h
    assert deadline(ms("2025-03-28T17:00+01:00"), 3 * H, rome) == ms("2025-04-01T11:00+02:00")
    # 2026: Monday 30th open in summer time, Tuesday 31st closed
    assert deadline(ms("2026-03-27T17:00+01:00"), 12 * H, rome) == ms("2026-04-01T11:00+02:00")


def test_feb_29_is_refused_as_yearly_and_handled_by_date():
    with pytest.raises(PolicyError) as caught:
        parse_policy(policy_with('["--02-29"]'), "sla.yaml")
    assert caught.value.problems == (
        "sla.yaml: business_hours for brand 'rome', field 'holidays[0]': '--02-29' recurs only "
        "in leap years; list the dates instead, e.g. 2028-02-29",
    )
    with pytest.raises(ValueError, match="Feb 29"):
        BusinessHours("Europe/Rome", OFFICE_WEEK, yearly=frozenset({(2, 29)}))
    rome = parse_policy(policy_with("[2028-02-29]")).calendar_for("rome")
    # Tue 2028-02-29 closed: Mon 17:00 + 2h -> Wed 10:00; the same hours in 2032 (Sun) differ
    assert deadline(ms("2028-02-28T17:00+01:00"), 2 * H, rome) == ms("2028-03-01T10:00+01:00")
    assert deadline(ms("2029-02-27T17:00+01:00"), 2 * H, rome) == ms("2029-02-28T10:00+01:00")


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_a_yearly_holiday_is_the_same_as_that_date_listed_in_every_year(day):
    """'--MM-DD' closes exactly what listing MM-DD of every year by date closes."""
    if (day.month, day.day) == (2, 29):
        day = day.replace(day=28)
    yearly = BusinessHours("Europe/Rome", OFFICE_WEEK, yearly=frozenset({(day.month, day.day)}))
    years = range(day.year - 1, day.year + 2)
    dated = BusinessHours("Europe/Rome", OFFICE_WEEK, frozenset(day.replace(year=y) for y in years))
    start = ms(f"{day.replace(year=day.year - 1).isoformat()}T12:00+00:00")
    for target_h in (1, 9, 40, 300):
        assert deadline(start, target_h * H, yearly) == deadline(start, target_h * H, dated)
