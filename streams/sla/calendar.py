"""When an SLA clock may run: calendar hours (always) or a brand's business hours.

A calendar is anything with `open_spans(from_ms)`: the open time from `from_ms` on, as
ordered, non-overlapping [start_ms, end_ms) spans (possibly touching). Clock arithmetic
(streams/sla/clock.py) only walks these spans, so it never needs to know about time zones.

Business-hours semantics, in local time of the brand's zone:
- each weekday has zero or more ranges; a range whose end is earlier than its start crosses
  midnight ('22:00-02:00') and belongs to the day it starts on;
- a holiday closes the ranges that *start* on that date (so 'dec 24 22:00-02:00' still runs
  into Christmas morning unless Dec 24 is a holiday too); a holiday is a date, or a month
  and day that recurs every year (`yearly`, never Feb 29);
- a range boundary at local time T is the first instant of that day whose wall clock reads
  T or later. So a boundary inside the hour skipped at spring-forward is the moment the
  clocks jump (02:30 -> 03:00 CEST), and one inside the hour repeated at fall-back is its
  first occurrence. A range spanning a DST change lasts an hour less or more in real time:
  SLA time is real elapsed time inside open hours;
- overlapping ranges simply merge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from streams.sla.syntax import DAYS, MINUTES_PER_DAY

#: "Never": later than any real timestamp, small enough for int arithmetic to stay exact.
FOREVER_MS = 2**62

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

Hours = tuple[tuple[int, int], ...]
"""Ranges of one weekday, as (start, end) minutes of the local day; end < start crosses midnight."""


class Calendar(Protocol):
    def open_spans(self, from_ms: int) -> Iterator[tuple[int, int]]:
        """Open time from from_ms on: ordered, non-overlapping [start, end) spans."""
        ...


@dataclass(frozen=True)
class AlwaysOpen:
    """Calendar hours: the clock runs around the clock."""

    def open_spans(self, from_ms: int) -> Iterator[tuple[int, int]]:
        yield from_ms, FOREVER_MS


ALWAYS_OPEN = AlwaysOpen()


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening hours in a time zone, minus holidays.

    weekly[0] is Monday. Build it from the policy file (streams/sla/policy.py) or directly:
    BusinessHours("Europe/Rome", weekly=(((540, 1080),),) * 5 + ((), ())).
    """

    time_zone: str
    weekly: tuple[Hours, ...]
    holidays: frozenset[date] = frozenset()
    yearly: frozenset[tuple[int, int]] = frozenset()  # (month, day) closed every year
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.time_zone))
        if len(self.weekly) != 7:
            raise ValueError(f"weekly needs 7 days (Monday first), got {len(self.weekly)}")
        if not any(self.weekly):
            raise ValueError("business hours with no open range at all: the clock would never run")
        for day, ranges in zip(DAYS, self.weekly, strict=True):
            for start, end in ranges:
                if not (0 <= start < MINUTES_PER_DAY and 0 <= end <= MINUTES_PER_DAY):
                    raise ValueError(f"{day}: range {(start, end)} outside the day")
                if start == end:
                    raise ValueError(f"{day}: empty range {(start, end)}")
        for month, month_day in self.yearly:
            if (month, month_day) == (2, 29):
                raise ValueError("a yearly holiday on Feb 29: list its leap years' dates instead")
            date(2001, month, month_day)  # ValueError if not a day of the year
        sorted_weekly = tuple(tuple(sorted(ranges)) for ranges in self.weekly)
        object.__setattr__(self, "weekly", sorted_weekly)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays or (day.month, day.day) in self.yearly

    def open_spans(self, from_ms: int) -> Iterator[tuple[int, int]]:
        # Start a day early: yesterday's range may cross midnight into today.
        day = local_datetime(from_ms, self.zone).date() - timedelta(days=1)
        reached = from_ms  # end of open time already yielded: clip overlaps against it
        while True:
            if not self.is_holiday(day):
                for start, end in self.weekly[day.weekday()]:
                    end_day = day if end > start else day + timedelta(days=1)
                    span_start = max(local_ms(day, start, self.zone), reached)
                    span_end = local_ms(end_day, end, self.zone)
                    if span_end > span_start:
                        yield span_start, span_end
                        reached = span_end
            day += timedelta(days=1)


def to_ms(moment: datetime) -> int:
    """Aware datetime -> epoch milliseconds, exactly."""
    return (moment - _EPOCH) // _MS


def local_datetime(ms: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone)


def local_ms(day: date, minute: int, zone: ZoneInfo) -> int:
    """The first instant of `day` whose wall clock in `zone` reads `minute` (0..1440) or later."""
    day += timedelta(days=minute // MINUTES_PER_DAY)
    minute %= MINUTES_PER_DAY
    wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    after = to_ms(wall.replace(tzinfo=zone))  # fold=0: the first occurrence if repeated
    if _wall(after, zone) == wall:
        return after
    # `wall` does not exist: the clocks jumped over it. Find the jump, between the instant
    # read with the later offset (before the jump) and the one read with the earlier (after).
    before = to_ms(wall.replace(tzinfo=zone, fold=1))
    while after - before > 1:
        middle = (before + after) // 2
        if _wall(middle, zone) >= wall:
            after = middle
        else:
            before = middle
    return after


def _wall(ms: int, zone: ZoneInfo) -> datetime:
    return local_datetime(ms, zone).replace(tzinfo=None)
