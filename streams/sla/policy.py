"""SLA policy: which target applies to a clock, and on which calendar it runs.

Loaded from the operator's YAML file (ascolto/defaults/sla-policies.yaml documents the
format), validated as a whole: every problem is reported at once, each naming the file,
the rule and the field. A worker reloads a changed file (streams/sla/policy_book.py says
which version judges which clock).

Matching, per target kind: among the rules that set a target for that kind and whose
`match` fits the clock (every dimension a rule names must equal the clock's), the most
specific wins:
  1. a rule naming the clock's brand beats every rule that names no brand: a brand's own
     contract replaces the generic rules for that brand, kind by kind (a kind its rules do
     not set falls through to the generic rules);
  2. then more matched dimensions first (channel, priority, tier);
  3. then tier over priority over channel: {tier} beats {priority} beats {channel}, and
     {tier, channel} beats {priority, channel}.
So {brand: b} beats {channel: email, priority: P1, tier: gold} for brand b's clocks, and a
brand never named in a rule is matched exactly as if brands did not exist.
Two rules with the same `match` are refused, so the winner is always unique. The catch-all
rule (no `match`) is required and must set first_response, next_response and resolution, so
those three always resolve; hard_limit applies only where some rule sets it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from streams.sla.calendar import ALWAYS_OPEN, BusinessHours, Calendar, Hours
from streams.sla.model import CHANNELS, PRIORITIES, TARGET_KINDS, OwedTarget, TargetKind
from streams.sla.syntax import (
    DAYS,
    MonthDay,
    parse_days,
    parse_duration,
    parse_holiday,
    parse_hours,
)

DEFAULT_WARNING_RATIO = 0.75
REQUIRED_DEFAULT_KINDS: tuple[TargetKind, ...] = ("first_response", "next_response", "resolution")

_T = TypeVar("_T")


class PolicyError(ValueError):
    """The policy file is invalid; `problems` lists every problem, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid SLA policy {source} ({len(problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class Match:
    """Which clocks a rule applies to; None matches anything."""

    channel: str | None = None
    priority: str | None = None
    tier: str | None = None
    brand: str | None = None

    def fits(
        self, channel: str | None, priority: str | None, tier: str | None, brand: str | None
    ) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.channel, channel),
                (self.priority, priority),
                (self.tier, tier),
                (self.brand, brand),
            )
        )

    @property
    def specificity(self) -> tuple[bool, int, bool, bool, bool]:
        """Higher wins: a brand, then matched dimensions, then tier, priority, channel."""
        dims = (self.tier is not None, self.priority is not None, self.channel is not None)
        return (self.brand is not None, sum(dims), *dims)

    def __str__(self) -> str:
        named = [f"{k}={v}" for k, v in vars(self).items() if v is not None]
        return ", ".join(named) or "anything"


@dataclass(frozen=True)
class Rule:
    name: str
    match: Match
    targets: Mapping[TargetKind, int] = field(hash=False)  # kind -> seconds
    warning_ratio: float = DEFAULT_WARNING_RATIO

    def target_s(self, kind: TargetKind) -> int:
        try:
            return self.targets[kind]
        except KeyError:
            raise ValueError(f"rule {self.name!r} sets no {kind} target") from None


class Policies(Protocol):
    """One policy, or a book of its versions over time (streams/sla/policy_book.py)."""

    def at(self, started_at_ms: int) -> Policy:
        """The policy a clock started at `started_at_ms` is judged by."""
        ...


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]  # most specific first
    business_hours: Mapping[str, BusinessHours] = field(default_factory=dict, hash=False)
    warning_ratio: float = DEFAULT_WARNING_RATIO
    source: str = "<policy>"

    # Asked for every clock on every step, with a handful of distinct questions: remembered.
    _matches: dict[tuple[str, str, str | None, str | None, str | None], Rule | None] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def at(self, started_at_ms: int) -> Policy:
        """A single policy judges every clock, whenever it started."""
        return self

    def match(
        self,
        kind: TargetKind,
        channel: str,
        priority: str | None = None,
        tier: str | None = None,
        *,
        brand: str | None,
    ) -> Rule | None:
        """The most specific rule setting `kind` for this brand/channel/priority/tier, if
        any. brand=None: the generic rules alone, as for a brand no rule names."""
        question = (kind, channel, priority, tier, brand)
        try:
            return self._matches[question]
        except KeyError:
            pass
        found = next(
            (
                r
                for r in self.rules
                if kind in r.targets and r.match.fits(channel, priority, tier, brand)
            ),
            None,
        )
        self._matches[question] = found
        return found

    def rule_for(self, target: OwedTarget) -> Rule | None:
        return self.match(
            target.kind, target.channel, target.priority, target.tier, brand=target.brand
        )

    def calendar_for(self, brand: str) -> Calendar:
        """The brand's business hours, or calendar hours if it has none."""
        return self.business_hours.get(brand, ALWAYS_OPEN)

    def response_kinds(
        self,
        first: bool,
        channel: str,
        priority: str | None = None,
        tier: str | None = None,
        *,
        brand: str | None,
    ) -> tuple[TargetKind, ...]:
        """The response clocks one owed customer message starts: first_response (the
        conversation's first owed message) or next_response, plus hard_limit where set."""
        kinds: list[TargetKind] = ["first_response" if first else "next_response"]
        if self.match("hard_limit", channel, priority, tier, brand=brand) is not None:
            kinds.append("hard_limit")
        return tuple(kinds)


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; raises PolicyError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), [f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    try:
        stream = io.StringIO(text)
        stream.name = source  # so YAML's own messages name the file, with line and column
        data = yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyError(source, [f"{source}: not valid YAML: {exc}"]) from exc
    return policy_from_data(data, source)


def policy_from_data(data: Any, source: str = "<policy>") -> Policy:
    """Validate already-parsed YAML (a dict); raises PolicyError listing every problem."""
    problems = _Problems(source)
    if not isinstance(data, dict):
        problems.add("", "expected a mapping with version, warning_ratio, rules, business_hours")
        problems.raise_if_any()
    problems.unknown_keys("", data, {"version", "warning_ratio", "rules", "business_hours"})
    if data.get("version") != 1:
        problems.add("field 'version'", f"must be 1 (got {data.get('version')!r})")
    ratio = DEFAULT_WARNING_RATIO
    if "warning_ratio" in data:
        ratio = _ratio(data["warning_ratio"], "field 'warning_ratio'", problems) or ratio
    rules = _rules(data.get("rules"), ratio, problems)
    hours = _business_hours(data.get("business_hours"), problems)
    problems.raise_if_any()
    ordered = sorted(rules, key=lambda r: r.match.specificity, reverse=True)  # stable
    return Policy(tuple(ordered), hours, ratio, source)


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.source}: {where + ': ' if where else ''}{message}")

    def parsed(self, parse: Callable[[Any], _T], value: Any, where: str) -> _T | None:
        """parse(value), or None with the parser's complaint added at `where`."""
        try:
            return parse(value)
        except ValueError as exc:
            self.add(where, str(exc))
            return None

    def unknown_keys(self, where: str, data: dict[Any, Any], allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.add(where or "top level", f"unknown field {key!r} (known: {known})")

    def raise_if_any(self) -> None:
        if self.items:
            raise PolicyError(self.source, self.items)


def _ratio(value: Any, where: str, problems: _Problems) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        problems.add(
            where, f"must be a number between 0 and 1 exclusive, e.g. 0.75 (got {value!r})"
        )
        return None
    return float(value)


def _rules(raw: Any, default_ratio: float, problems: _Problems) -> list[Rule]:
    if not isinstance(raw, list) or not raw:
        problems.add("field 'rules'", "must be a non-empty list of rules")
        return []
    rules: list[tuple[str, Rule]] = []
    for i, item in enumerate(raw):
        parsed = _rule(i, item, default_ratio, problems)
        if parsed is not None:
            rules.append(parsed)
    seen_names: dict[str, str] = {}
    seen_matches: dict[Match, str] = {}
    for where, rule in rules:
        if rule.name in seen_names:
            problems.add(where, f"name {rule.name!r} already used by {seen_names[rule.name]}")
        seen_names.setdefault(rule.name, where)
        if rule.match in seen_matches:
            problems.add(
                where,
                f"matches the same clocks ({rule.match}) as {seen_matches[rule.match]}; "
                "merge the two rules",
            )
        seen_matches.setdefault(rule.match, where)
    catch_all = [(w, r) for w, r in rules if r.match == Match()]
    catch_all_written = any(isinstance(item, dict) and not item.get("match") for item in raw)
    if not catch_all_written:
        problems.add(
            "field 'rules'",
            "missing the catch-all default: add a rule without 'match' (e.g. name: default) "
            f"that sets {', '.join(REQUIRED_DEFAULT_KINDS)}",
        )
    for where, rule in catch_all[:1]:
        missing = [k for k in REQUIRED_DEFAULT_KINDS if k not in rule.targets]
        if missing:
            problems.add(
                f"{where}, field 'targets'",
                f"the catch-all rule must set {', '.join(missing)} so every clock has a target",
            )
    return [rule for _, rule in rules]


def _rule(i: int, raw: Any, default_ratio: float, problems: _Problems) -> tuple[str, Rule] | None:
    where = f"rules[{i}]"
    if not isinstance(raw, dict):
        problems.add(where, f"expected a mapping with name, match, targets (got {raw!r})")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(f"{where}, field 'name'", f"every rule needs a name (got {name!r})")
        name = where
    else:
        where = f"rule {name!r} (rules[{i}])"
    count = len(problems.items)
    problems.unknown_keys(where, raw, {"name", "match", "targets", "warning_ratio"})
    match = _match(raw.get("match"), where, problems)
    targets = _targets(raw.get("targets"), where, problems)
    _check_hard_limit(targets, raw.get("targets"), where, problems)
    ratio = default_ratio
    if "warning_ratio" in raw:
        ratio = _ratio(raw["warning_ratio"], f"{where}, field 'warning_ratio'", problems) or ratio
    if len(problems.items) > count:
        return None
    return where, Rule(name, match, targets, ratio)


def _match(raw: Any, where: str, problems: _Problems) -> Match:
    if raw is None:
        return Match()
    if not isinstance(raw, dict):
        problems.add(f"{where}, field 'match'", f"expected a mapping (got {raw!r})")
        return Match()
    dimensions = ("brand", "channel", "priority", "tier")
    problems.unknown_keys(f"{where}, field 'match'", raw, set(dimensions))
    allowed = {"channel": CHANNELS, "priority": PRIORITIES}  # brands and tiers are open
    values: dict[str, str] = {}
    for key in dimensions:
        if key not in raw:
            continue
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            problems.add(f"{where}, field 'match.{key}'", f"expected a name (got {value!r})")
            continue
        value = value.strip()  # 'enterprise ' would otherwise never match a customer's tier
        if key in allowed and value not in allowed[key]:
            choices = ", ".join(allowed[key])
            problems.add(f"{where}, field 'match.{key}'", f"unknown {key} {value!r}; use {choices}")
        else:
            values[key] = value
    return Match(**values)


def _targets(raw: Any, where: str, problems: _Problems) -> dict[TargetKind, int]:
    kinds = ", ".join(TARGET_KINDS)
    if not isinstance(raw, dict) or not raw:
        problems.add(f"{where}, field 'targets'", f"expected a mapping of some of {kinds}")
        return {}
    targets: dict[TargetKind, int] = {}
    for kind, value in raw.items():
        if kind not in TARGET_KINDS:
            problems.add(f"{where}, field 'targets'", f"unknown target {kind!r}; use {kinds}")
            continue
        seconds = problems.parsed(parse_duration, value, f"{where}, field 'targets.{kind}'")
        if seconds is not None:
            targets[kind] = seconds
    return targets


def _check_hard_limit(
    targets: Mapping[TargetKind, int], raw: Any, where: str, problems: _Problems
) -> None:
    """A hard limit runs beside the response targets of its rule: not longer than one, it
    would breach no later than that target and count nothing apart."""
    if "hard_limit" not in targets:
        return
    shorter = [
        f"{kind} ({raw[kind]!r})"
        for kind in ("first_response", "next_response")
        if kind in targets and targets["hard_limit"] <= targets[kind]
    ]
    if shorter:
        problems.add(
            f"{where}, field 'targets.hard_limit'",
            f"{raw['hard_limit']!r} must be longer than {' and '.join(shorter)}: "
            "it is the second, later deadline of the same messages",
        )


def _business_hours(raw: Any, problems: _Problems) -> dict[str, BusinessHours]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.add("field 'business_hours'", "expected a mapping of brand -> hours")
        return {}
    calendars = {}
    for brand, spec in raw.items():
        calendar = _calendar(f"business_hours for brand {brand!r}", spec, problems)
        if calendar is not None:
            calendars[str(brand)] = calendar
    return calendars


def _calendar(where: str, raw: Any, problems: _Problems) -> BusinessHours | None:
    if not isinstance(raw, dict):
        problems.add(where, "expected a mapping with time_zone, weekly, holidays")
        return None
    count = len(problems.items)
    problems.unknown_keys(where, raw, {"time_zone", "weekly", "holidays"})
    zone = raw.get("time_zone")
    try:
        if not isinstance(zone, str):
            raise ValueError
        ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        problems.add(
            f"{where}, field 'time_zone'",
            f"unknown time zone {zone!r}; use an IANA name such as 'Europe/Rome'",
        )
    weekly = _weekly(raw.get("weekly"), where, problems)
    holidays, yearly = set(), set()
    raw_holidays = raw.get("holidays") or []
    if not isinstance(raw_holidays, list):
        problems.add(
            f"{where}, field 'holidays'", "expected a list of dates like 2025-12-25 or '--12-25'"
        )
        raw_holidays = []
    for i, value in enumerate(raw_holidays):
        holiday = problems.parsed(parse_holiday, value, f"{where}, field 'holidays[{i}]'")
        if isinstance(holiday, MonthDay):
            yearly.add((holiday.month, holiday.day))
        elif holiday is not None:
            holidays.add(holiday)
    if len(problems.items) > count or not isinstance(zone, str):
        return None
    try:
        return BusinessHours(zone, weekly, frozenset(holidays), frozenset(yearly))
    except ValueError as exc:
        problems.add(where, str(exc))
        return None


def _weekly(raw: Any, where: str, problems: _Problems) -> tuple[Hours, ...]:
    example = "e.g. {'mon-fri': ['09:00-13:00', '14:00-18:00'], 'sat': '09:00-12:00'}"
    if not isinstance(raw, dict) or not raw:
        problems.add(f"{where}, field 'weekly'", f"expected a mapping of days -> ranges, {example}")
        return ((),) * 7
    week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    given_by: dict[int, str] = {}
    for spec, ranges in raw.items():
        days = problems.parsed(parse_days, spec, f"{where}, field 'weekly.{spec}'")
        if days is None:
            continue
        for day in days:
            if day in given_by:
                problems.add(
                    f"{where}, field 'weekly.{spec}'",
                    f"{DAYS[day]} already has hours (from {given_by[day]!r})",
                )
            given_by.setdefault(day, spec)
        for i, text in enumerate(ranges if isinstance(ranges, list) else [ranges]):
            hours = problems.parsed(parse_hours, text, f"{where}, field 'weekly.{spec}[{i}]'")
            if hours is None:
                continue
            for day in days:
                week[day].append(hours)
    return tuple(tuple(day) for day in week)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<: *anchor' may be overridden by the keys beside it
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if not isinstance(key, str | int | float | bool | None) or key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate or complex key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Dates stay strings, so a bad one ('2025-13-01') is reported by parse_holiday with its place.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
