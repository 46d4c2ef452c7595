"""Business hours: weekends, midnight, holidays and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sla.calendar import ALWAYS_OPEN, BusinessHours, local_ms
from streams.sla.clock import deadline, elapsed
from streams.sla.syntax import parse_days, parse_hours

H = 3600
ROME = ZoneInfo("Europe/Rome")


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def hours(
    spec: dict[str, str | list[str]], zone: str = "Europe/Rome", holidays=()
) -> BusinessHours:
    week: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    for days, ranges in spec.items():
        for day in parse_days(days):
            for text in [ranges] if isinstance(ranges, str) else ranges:
                week[day].append(parse_hours(text))
    return BusinessHours(zone, tuple(map(tuple, week)), frozenset(holidays))


OFFICE = hours({"mon-fri": "09:00-18:00"})
SPLIT = hours({"mon-fri": ["09:00-13:00", "14:00-18:00"]})
NIGHTS = hours({"fri": "22:00-02:00"})


def test_calendar_hours_count_everything():
    start = ms("2025-03-29T12:00+01:00")
    assert deadline(start, 48 * H) == start + 48 * H * 1000
    assert elapsed(start, start + 5000, ALWAYS_OPEN) == 5.0


def test_inside_one_day():
    assert deadline(ms("2025-06-02T10:00+02:00"), 2 * H, OFFICE) == ms("2025-06-02T12:00+02:00")


def test_starts_before_opening():
    assert deadline(ms("2025-06-03T07:00+02:00"), H, OFFICE) == ms("2025-06-03T10:00+02:00")


def test_over_the_weekend():
    start = ms("2025-06-06T17:00+02:00")  # Friday
    assert deadline(start, 2 * H, OFFICE) == ms("2025-06-09T10:00+02:00")
    assert elapsed(start, ms("2025-06-09T10:00+02:00"), OFFICE) == 2 * H
    saturday = ms("2025-06-07T11:00+02:00")
    assert deadline(saturday, 30 * 60, OFFICE) == ms("2025-06-09T09:30+02:00")


def test_deadline_at_closing_time_is_the_close_not_the_next_opening():
    start = ms("2025-06-06T16:00+02:00")
    assert deadline(start, 2 * H, OFFICE) == ms("2025-06-06T18:00+02:00")


def test_several_ranges_a_day():
    start = ms("2025-06-02T12:30+02:00")
    assert deadline(start, H, SPLIT) == ms("2025-06-02T14:30+02:00")
    assert elapsed(ms("2025-06-02T00:00+02:00"), ms("2025-06-03T00:00+02:00"), SPLIT) == 8 * H


def test_range_across_midnight_belongs_to_the_day_it_starts():
    friday_late = ms("2025-06-06T23:00+02:00")
    assert deadline(friday_late, 2 * H, NIGHTS) == ms("2025-06-07T01:00+02:00")
    saturday_early = ms("2025-06-07T01:00+02:00")  # Saturday: only Friday's night is open
    assert deadline(saturday_early, 2 * H, NIGHTS) == ms("2025-06-13T23:00+02:00")
    week = elapsed(ms("2025-06-02T00:00+02:00"), ms("2025-06-09T00:00+02:00"), NIGHTS)
    assert week == 4 * H


def test_touching_and_overlapping_ranges_merge():
    cal = hours({"mon": ["09:00-12:00", "11:00-13:00", "22:00-24:00"], "tue": "00:00-01:00"})
    monday = ms("2025-06-02T00:00+02:00")
    assert elapsed(monday, monday + 7 * 24 * H * 1000, cal) == 7 * H
    assert deadline(ms("2025-06-02T23:30+02:00"), H, cal) == ms("2025-06-03T00:30+02:00")
    spans = list(_take(cal.open_spans(monday), 3))
    assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:], strict=False))


def test_holidays_close_the_ranges_that_start_on_them():
    christmas = hours({"mon-fri": "09:00-18:00"}, holidays={date(2025, 12, 25), date(2025, 12, 26)})
    start = ms("2025-12-24T17:00+01:00")  # Wednesday
    assert deadline(start, 2 * H, christmas) == ms("2025-12-29T10:00+01:00")
    night = hours({"wed-thu": "22:00-02:00"}, holidays={date(2025, 12, 25)})
    # Wednesday's night runs into Christmas morning; Christmas night itself is closed.
    assert elapsed(ms("2025-12-24T00:00+01:00"), ms("2025-12-27T00:00+01:00"), night) == 4 * H


def test_spring_forward_in_rome():
    sunday = ms("2025-03-30T00:00+01:00")  # 02:00 CET -> 03:00 CEST
    whole_days = hours({"mon-sun": "00:00-24:00"})
    assert elapsed(sunday, ms("2025-03-31T00:00+02:00"), whole_days) == 23 * H
    early = hours({"sun": "01:00-04:00"})
    assert elapsed(sunday, sunday + 24 * H * 1000, early) == 2 * H  # the 02:00 hour never was
    # A boundary in the skipped hour is the jump itself: opening 02:30 opens at 03:00 CEST.
    assert local_ms(date(2025, 3, 30), 150, ROME) == ms("2025-03-30T03:00+02:00")
    gap = hours({"sun": "02:30-05:00"})
    assert deadline(sunday, H, gap) == ms("2025-03-30T04:00+02:00")
    saturday_night = hours({"sat": "22:00-02:30"})
    assert elapsed(ms("2025-03-29T12:00+01:00"), sunday + 12 * H * 1000, saturday_night) == 4 * H


def test_fall_back_in_rome():
    sunday = ms("2025-10-26T00:00+02:00")  # 03:00 CEST -> 02:00 CET
    whole_days = hours({"mon-sun": "00:00-24:00"})
    assert elapsed(sunday, ms("2025-10-27T00:00+01:00"), whole_days) == 25 * H
    early = hours({"sun": "01:00-04:00"})
    assert elapsed(sunday, sunday + 30 * H * 1000, early) == 4 * H  # the 02:00 hour twice
    # A boundary in the repeated hour is its first occurrence.
    assert local_ms(date(2025, 10, 26), 150, ROME) == ms("2025-10-26T02:30+02:00")
    repeated = hours({"sun": "02:30-03:00"})
    assert elapsed(sunday, sunday + 30 * H * 1000, repeated) == 1.5 * H


def test_office_hours_over_a_dst_weekend_keep_wall_clock_times():
    friday = ms("2025-03-28T17:00+01:00")
    assert deadline(friday, 2 * H, OFFICE) == ms("2025-03-31T10:00+02:00")
    friday = ms("2025-10-24T17:00+02:00")
    assert deadline(friday, 2 * H, OFFICE) == ms("2025-10-27T10:00+01:00")


def test_other_zones():
    new_york = hours({"mon-fri": "09:00-17:00"}, zone="America/New_York")
    start = ms("2025-03-07T16:00-05:00")  # Friday before the US spring-forward
    assert deadline(start, 2 * H, new_york) == ms("2025-03-10T10:00-04:00")


# ---- property: the interval arithmetic agrees with reading the wall clock ---------------

ZONES = ["Europe/Rome", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
AROUND = [
    date(2025, 3, 28),  # Rome/EU spring-forward
    date(2025, 10, 24),  # Rome/EU fall-back
    date(2025, 3, 7),  # US spring-forward
    date(2025, 10, 31),  # US fall-back
    date(2025, 4, 4),  # Sydney fall-back
    date(2025, 10, 3),  # Sydney spring-forward
    date(2025, 7, 14),
]
QUARTER = 15 * 60 * 1000


@st.composite
def weekly_hours(draw):
    """Ranges on whole hours (where wall-clock reading is unambiguous even at DST)."""
    week = []
    for _ in range(7):
        ranges = []
        for _ in range(draw(st.integers(0, 2))):
            start = draw(st.integers(0, 23))
            end = draw(st.integers(0, 24).filter(lambda e, s=start: e != s))
            ranges.append((start * 60, end * 60))
        week.append(tuple(ranges))
    if not any(week):
        week[0] = ((540, 1080),)
    return tuple(week)


def _wall_clock_open(ms_: int, cal: BusinessHours) -> bool:
    local = datetime.fromtimestamp(ms_ / 1000, cal.zone)
    day, minute = local.date(), local.hour * 60 + local.minute
    yesterday = day - timedelta(days=1)
    today_open = day not in cal.holidays and any(
        (s <= minute < e) if e > s else minute >= s for s, e in cal.weekly[day.weekday()]
    )
    carried = yesterday not in cal.holidays and any(
        e < s and minute < e for s, e in cal.weekly[yesterday.weekday()]
    )
    return today_open or carried


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    week=weekly_hours(),
    around=st.sampled_from(AROUND),
    holiday_offsets=st.sets(st.integers(-1, 4), max_size=2),
    start_q=st.integers(0, 4 * 96),
    length_q=st.integers(0, 3 * 96),
)
def test_elapsed_matches_a_wall_clock_scan(zone, week, around, holiday_offsets, start_q, length_q):
    holidays = frozenset(around + timedelta(days=d) for d in holiday_offsets)
    cal = BusinessHours(zone, week, holidays)
    base = int(datetime(around.year, around.month, around.day, tzinfo=UTC).timestamp() * 1000)
    start = base + start_q * QUARTER
    end = start + length_q * QUARTER
    scanned = sum(QUARTER for t in range(start, end, QUARTER) if _wall_clock_open(t, cal))
    assert elapsed(start, end, cal) * 1000 == scanned
    if scanned > 0:
        due = deadline(start, scanned / 1000, cal)
        assert due is not None and due <= end
        assert elapsed(start, due, cal) * 1000 == scanned
        assert _wall_clock_open(due - 1, cal)


def _take(iterator, n):
    for _ in range(n):
        yield next(iterator)
