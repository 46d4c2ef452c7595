"""Parsers for the small languages an operator writes in the policy file.

Each raises ValueError with a message that says what was expected; the policy loader adds
where (file, rule, field) the value came from.
"""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60

_DURATION = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?")
_UNIT_SECONDS = (86_400, 3_600, 60, 1)
_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_YEARLY = re.compile(r"--(\d{2})-(\d{2})")
_MONTH_DAY = re.compile(r"\d{1,2}[-/.]\d{1,2}")


class MonthDay(NamedTuple):
    """A holiday that recurs every year on this date."""

    month: int
    day: int

    def __str__(self) -> str:
        return f"--{self.month:02d}-{self.day:02d}"


def parse_duration(text: object) -> int:
    """'30s', '5m', '6h', '1d', '1h30m' -> whole seconds (> 0)."""
    example = "write a number and a unit (d, h, m, s), e.g. '30s', '5m', '6h', '1d', '1h30m'"
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"expected a duration, got {text!r}; {example}")
    if isinstance(text, int):
        raise ValueError(f"a bare number ({text}) has no unit; {example}")
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"invalid duration {text!r}; {example}")
    seconds = sum(int(n) * unit for n, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if n)
    if seconds <= 0:
        raise ValueError(f"duration {text!r} is zero; a target must be longer than that")
    return seconds


def parse_days(text: object) -> tuple[int, ...]:
    """'mon' | 'mon-fri' | 'sat,sun' | 'fri-mon' (wraps) -> weekday numbers, Monday = 0."""
    if not isinstance(text, str):
        raise ValueError(f"expected days like 'mon-fri' or 'sat,sun', got {text!r}")
    days: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        for name in (first, last) if sep else (first,):
            if name not in DAYS:
                raise ValueError(f"unknown day {name!r} in {text!r}; use {', '.join(DAYS)}")
        a, b = DAYS.index(first), DAYS.index(last if sep else first)
        span = [(a + i) % 7 for i in range((b - a) % 7 + 1)]
        for day in span:
            if day in days:
                raise ValueError(f"day {DAYS[day]!r} appears twice in {text!r}")
            days.append(day)
    return tuple(days)


def parse_hours(text: object) -> tuple[int, int]:
    """'09:00-18:00' -> (540, 1080) minutes of the local day.

    End may be '24:00'. An end earlier than the start crosses midnight: '22:00-02:00' runs
    until 02:00 of the next day, and belongs to the day it starts on.
    """
    example = "write 'HH:MM-HH:MM' in quotes, e.g. '09:00-18:00' or '22:00-02:00'"
    if not isinstance(text, str):
        hint = (
            " (YAML read an unquoted time as a number: quote it)" if isinstance(text, int) else ""
        )
        raise ValueError(f"expected an hours range, got {text!r}{hint}; {example}")
    match = _RANGE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid hours range {text!r}; {example}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    for h, m in ((h1, m1), (h2, m2)):
        if m > 59 or h > 24 or (h == 24 and m != 0):
            raise ValueError(f"invalid time {h:02d}:{m:02d} in {text!r}; {example}")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == MINUTES_PER_DAY:
        raise ValueError(f"{text!r} starts at 24:00; start at 00:00 of the next day instead")
    if start == end:
        raise ValueError(f"{text!r} is empty; for a whole day write '00:00-24:00'")
    return start, end


def parse_date(value: object) -> date:
    """A holiday: YAML date (2025-12-25) or ISO string ('2025-12-25')."""
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a date like 2025-12-25, got {value!r}")


def parse_holiday(value: object) -> date | MonthDay:
    """'2025-12-25': that day only; '--12-25' (ISO 8601's date without a year): every year.

    '--02-29' is refused: it would close one year in four; list those years' dates."""
    example = "write 2025-12-25 for one day, or '--12-25' for every year's December 25"
    text = value.strip() if isinstance(value, str) else ""
    if (yearly := _YEARLY.fullmatch(text)) is None:
        if _MONTH_DAY.fullmatch(text):
            raise ValueError(f"{value!r} has no year; {example}")
        try:
            return parse_date(value)
        except ValueError:
            raise ValueError(f"expected a holiday, got {value!r}; {example}") from None
    month, day = int(yearly[1]), int(yearly[2])
    if (month, day) == (2, 29):
        raise ValueError(
            f"{value!r} recurs only in leap years; list the dates instead, e.g. 2028-02-29"
        )
    try:
        date(2001, month, day)  # a year that is not a leap year: Feb 29 is refused above
    except ValueError:
        raise ValueError(f"{value!r} is not a day of the year; {example}") from None
    return MonthDay(month, day)
