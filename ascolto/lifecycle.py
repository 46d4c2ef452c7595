"""Index lifecycle rules (pure): event-time periods, index names, retention and rollover.

Each kind (contacts, conversations, SLA events) is a set of concrete indices behind its read
alias ``<prefix>-<kind>``, one series per event-time period of a time field that never
changes for a document id: a replay or a newer revision lands in the same period, so in the
same series. A period's series is ``<alias>-<period>-000001``, ``-000002`` ... (rolled over
by size), with ``<alias>-<period>`` its write alias. docs/index-lifecycle.md tells the story.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ascolto.declared import DECLARED

PERIODS = ("month", "week", "day")
#: kind (template name) -> the field whose time places a document; stable for its id:
#: a contact's occurred_at; a conversation's first message (its id derives from it); an SLA
#: clock's deadline, which met, breached and warning of the clock share.
TIME_FIELDS = {"contacts": "occurred_at", "conversations": "opened_at", "sla-events": "deadline"}
LEGACY_SUFFIX = "-v1"  # the one index per kind of releases before time-based indices
DAY = timedelta(days=1)

_env = DECLARED.field
_PERIOD_DOC = "Event-time period of each {} index: month, week (ISO) or day."
_RETENTION_DOC = "Days {} indices are kept after their period ends (`ascolto indices maintain`)."


@dataclass(frozen=True)
class Policy:
    period: str
    retention_days: int


@dataclass(frozen=True)
class LifecycleSettings:
    """Elasticsearch: index lifecycle (docs/index-lifecycle.md)"""

    contacts_period: str = _env(
        "ASCOLTO_ES_CONTACTS_PERIOD", "month", _PERIOD_DOC.format("contacts"), choices=PERIODS
    )
    conversations_period: str = _env(
        "ASCOLTO_ES_CONVERSATIONS_PERIOD",
        "month",
        _PERIOD_DOC.format("conversations"),
        choices=PERIODS,
    )
    sla_events_period: str = _env(
        "ASCOLTO_ES_SLA_EVENTS_PERIOD", "month", _PERIOD_DOC.format("SLA events"), choices=PERIODS
    )
    contacts_retention_days: int = _env(
        "ASCOLTO_ES_CONTACTS_RETENTION_DAYS", 365, _RETENTION_DOC.format("contacts"), minimum=1
    )
    conversations_retention_days: int = _env(
        "ASCOLTO_ES_CONVERSATIONS_RETENTION_DAYS",
        365,
        _RETENTION_DOC.format("conversations"),
        minimum=1,
    )
    sla_events_retention_days: int = _env(
        "ASCOLTO_ES_SLA_EVENTS_RETENTION_DAYS",
        365,
        _RETENTION_DOC.format("SLA events"),
        minimum=1,
    )
    rollover_max_docs: int = _env(
        "ASCOLTO_ES_ROLLOVER_MAX_DOCS",
        50_000_000,
        "Documents in a period's write index past which `maintain` starts the period's next one.",
        minimum=1,
    )
    rollover_max_primary_gb: int = _env(
        "ASCOLTO_ES_ROLLOVER_MAX_PRIMARY_GB",
        50,
        "Primary store size (GB) of a period's write index past which `maintain` starts the "
        "period's next one.",
        minimum=1,
    )

    def policy(self, kind: str) -> Policy:
        key = kind.replace("-", "_")
        return Policy(getattr(self, f"{key}_period"), getattr(self, f"{key}_retention_days"))

    def rollover_due(self, docs: int, primary_bytes: int) -> bool:
        return docs >= self.rollover_max_docs or primary_bytes >= self.rollover_max_primary_gb * 1e9


def period_of(ms: int, period: str) -> str:
    """The label of the period holding ``ms`` (epoch milliseconds, UTC): ``2026.12``,
    ``2026.w49`` (ISO week) or ``2026.12.07``."""
    day = datetime.fromtimestamp(ms / 1000, UTC).date()
    if period == "month":
        return f"{day.year}.{day.month:02d}"
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}.w{week:02d}"
    if period == "day":
        return f"{day.year}.{day.month:02d}.{day.day:02d}"
    raise ValueError(f"unknown period {period!r}: expected one of {', '.join(PERIODS)}")


_LABEL = re.compile(r"(\d{4})\.(?:(\d{2})\.(\d{2})|w(\d{2})|(\d{2}))$")


def bounds(label: str) -> tuple[datetime, datetime]:
    """[start, end) of a period label, whatever period the label's shape says."""
    m = _LABEL.fullmatch(label)
    if m is None:
        raise ValueError(f"not a period label: {label!r}")
    year, month, day, week, month_only = m.groups()
    if week:
        start = date.fromisocalendar(int(year), int(week), 1)
        end = start + 7 * DAY
    elif month_only:
        start = date(int(year), int(month_only), 1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    else:
        start = date(int(year), int(month), int(day))
        end = start + DAY
    return _midnight(start), _midnight(end)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def write_alias(alias: str, label: str) -> str:
    return f"{alias}-{label}"


def index_name(alias: str, label: str, generation: int = 1) -> str:
    return f"{write_alias(alias, label)}-{generation:06d}"


def parse_index(alias: str, index: str) -> tuple[str, int] | None:
    """(period label, generation) of one of ``alias``'s concrete indices; None for another
    name (a legacy ``-v1`` index)."""
    if not index.startswith(f"{alias}-"):
        return None
    label, _, generation = index[len(alias) + 1 :].rpartition("-")
    if not (generation.isdigit() and len(generation) == 6 and _LABEL.fullmatch(label)):
        return None
    return label, int(generation)


def expires_at(label: str, retention_days: int) -> datetime:
    """When a period's indices are due for deletion: its end plus the retention."""
    return bounds(label)[1] + retention_days * DAY


def expired(label: str, retention_days: int, now: datetime) -> bool:
    return expires_at(label, retention_days) < now


def due_periods(now: datetime, period: str) -> list[str]:
    """The periods whose index ``maintain`` makes ahead of the documents: now's and the next."""
    current = period_of(int(now.timestamp() * 1000), period)
    following = period_of(int(bounds(current)[1].timestamp() * 1000), period)
    return [current, following]


def next_generation(alias: str, indices: list[str], label: str) -> str:
    """The name of the period's next index after those already there."""
    parsed = [parse_index(alias, index) for index in indices]
    generations = [p[1] for p in parsed if p is not None and p[0] == label]
    return index_name(alias, label, max(generations, default=0) + 1)


def creation_aliases(alias: str, label: str, *, write: bool = True) -> dict[str, dict[str, bool]]:
    """The aliases a period index is created with: the kind's read alias, and the period's
    write alias (named in the create call, not by a template, so setup decides them)."""
    return {alias: {}, write_alias(alias, label): {"is_write_index": write}}


def time_of(kind: str, doc: dict[str, object]) -> int | None:
    """The placing time (epoch ms) of a document of ``kind``; None when it has none."""
    value = doc.get(TIME_FIELDS[kind])
    return value if isinstance(value, int) else None
