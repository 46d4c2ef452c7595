"""What the nudger sends, to whom and when, as plain data: the nudges file (``ASCOLTO_NUDGES``)
checked as a whole, quiet hours, and the text of a nudge and of a digest. No Kafka, no HTTP,
no clock read here: the service (services/nudges.py) hands in ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ascolto.secret import Secret
from ascolto.settings_table import ConfigError, read_yaml

State = Literal["warning", "breached"]
STATES: tuple[State, ...] = ("warning", "breached")
BRAND_KEYS = ("webhook_url_file", "states", "quiet_hours")
QUIET_KEYS = ("time_zone", "from", "to")
TARGET_WORDS = {
    "first_response": "first response",
    "next_response": "next response",
    "hard_limit": "hard limit",
    "resolution": "resolution",
}

Link = Callable[[str], str]  # conversation id -> a link to it


@dataclass(frozen=True)
class QuietHours:
    """[start, end) each day in ``zone``, local time; end before start wraps past midnight."""

    zone: ZoneInfo
    start: time
    end: time

    def holds(self, now_ms: int) -> bool:
        local = datetime.fromtimestamp(now_ms / 1000, self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class BrandRoute:
    """Where one brand's nudges go: its team's webhook, the states it wants, its quiet hours."""

    brand: str
    webhook: Secret
    states: frozenset[str]
    quiet: QuietHours | None = None

    @property
    def zone(self) -> ZoneInfo:
        return self.quiet.zone if self.quiet else ZoneInfo("UTC")


@dataclass(frozen=True)
class NudgeConfig:
    routes: Mapping[str, BrandRoute]  # by case-folded brand, as the topics' keys fold it

    def route(self, brand: str, state: str) -> BrandRoute | None:
        found = self.routes.get(brand.casefold())
        return found if found is not None and state in found.states else None

    def summary(self) -> str:
        if not self.routes:
            return "no brand is configured: no nudge will be sent"
        brands = ", ".join(sorted(r.brand for r in self.routes.values()))
        return f"nudging the teams of {len(self.routes)} brand(s): {brands}"


def load_config(path: Path) -> NudgeConfig:
    return parse_config(read_yaml(path, "ASCOLTO_NUDGES") or {}, str(path), path.parent)


def parse_config(data: Any, source: str, base: Path) -> NudgeConfig:
    """The whole file checked: a ConfigError with one line per problem, none holding a URL."""
    problems: list[str] = []
    routes: dict[str, BrandRoute] = {}
    if not isinstance(data, dict) or set(data) - {"brands"}:
        raise ConfigError(f"{source}: expected a mapping with one key, brands")
    brands = data.get("brands") or {}
    if not isinstance(brands, dict):
        raise ConfigError(f"{source}: brands: expected a mapping of brand to its team's webhook")
    for brand, spec in brands.items():
        where = f"brands.{brand}"
        route = _route(str(brand), spec, where, base, problems)
        if route is not None and route.brand.casefold() in routes:
            problems.append(f"{where}: the same brand as {routes[route.brand.casefold()].brand}")
        elif route is not None:
            routes[route.brand.casefold()] = route
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))
    return NudgeConfig(routes)


def _route(brand: str, spec: Any, where: str, base: Path, problems: list[str]) -> BrandRoute | None:
    if not isinstance(spec, dict):
        problems.append(f"{where}: expected a mapping with {', '.join(BRAND_KEYS)}")
        return None
    seen = len(problems)
    for key in sorted(set(spec) - set(BRAND_KEYS)):
        problems.append(f"{where}: unknown key {key} (one of {', '.join(BRAND_KEYS)})")
    webhook = _webhook(spec.get("webhook_url_file"), f"{where}.webhook_url_file", base, problems)
    states = spec.get("states", list(STATES))
    if not isinstance(states, list) or not states or not set(map(str, states)) <= set(STATES):
        problems.append(f"{where}.states: expected a non-empty list of {', '.join(STATES)}")
        states = []
    quiet = (
        _quiet(spec["quiet_hours"], f"{where}.quiet_hours", problems)
        if "quiet_hours" in spec
        else None
    )
    if len(problems) > seen or webhook is None:
        return None
    return BrandRoute(brand, webhook, frozenset(map(str, states)), quiet)


def _webhook(name: Any, where: str, base: Path, problems: list[str]) -> Secret | None:
    """The URL read from its file; a problem names the file, never what it holds."""
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: expected the name of a file holding the webhook's URL")
        return None
    path = base / name
    try:
        url = path.read_text().strip()
    except OSError as exc:
        problems.append(f"{where}: cannot read {path} ({exc.strerror})")
        return None
    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        problems.append(f"{where}: {path} does not hold one http(s) URL")
        return None
    return Secret(url)


def _quiet(spec: Any, where: str, problems: list[str]) -> QuietHours | None:
    if not isinstance(spec, dict) or set(spec) != set(QUIET_KEYS):
        problems.append(f"{where}: expected a mapping with {', '.join(QUIET_KEYS)}")
        return None
    try:
        zone = ZoneInfo(str(spec["time_zone"]))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"{where}.time_zone: {spec['time_zone']!r} is no IANA time zone")
        return None
    bounds = [_clock_time(spec[k], f"{where}.{k}", problems) for k in ("from", "to")]
    start, end = bounds
    if start is None or end is None:
        return None
    if start == end:
        problems.append(f"{where}: from and to are the same time ({start:%H:%M})")
        return None
    return QuietHours(zone, start, end)


def _clock_time(value: Any, where: str, problems: list[str]) -> time | None:
    text = str(value)
    try:
        if len(text) < 5:
            raise ValueError(text)
        return time.fromisoformat(text)
    except ValueError:
        problems.append(f'{where}: {text!r} is no time of day ("HH:MM", "HH:MM:SS")')
        return None


# ---------------------------------------------------------------- what is said


@dataclass(frozen=True)
class Nudge:
    """One clock in one state, as much of its SLA event as the message needs (no customer
    handle, no message text: the event carries neither)."""

    clock: str  # <subject>:<target>
    state: str
    brand: str
    channel: str
    target: str
    conversation_id: str
    deadline_ms: int
    priority: str | None = None

    @property
    def key(self) -> str:
        return ledger_key(self.clock, self.state)

    @classmethod
    def of(cls, clock: str, state: str, record: Mapping[str, Any]) -> Nudge:
        return cls(
            clock, state, str(record["brand"]), str(record["channel"]), str(record["target"]),
            str(record["conversation_id"]), epoch_ms(record["deadline"]), record.get("priority"),
        )  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "clock": self.clock, "state": self.state, "brand": self.brand,
            "channel": self.channel, "target": self.target,
            "conversation_id": self.conversation_id, "deadline": self.deadline_ms,
            "priority": self.priority,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Nudge:
        return cls.of(str(data["clock"]), str(data["state"]), data)


def ledger_key(clock: str, state: str) -> str:
    return f"{clock}:{state}"


def epoch_ms(value: Any) -> int:
    """fastavro reads timestamp-millis as an aware datetime; the ledger keeps epoch ms."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def duration(ms: int) -> str:
    """``1d 3h``, ``2h 5m``, ``4m 12s``, ``40s``: two units at most, rounded down."""
    s = max(ms, 0) // 1000
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    first = next((i for i, (n, _) in enumerate(parts) if n), len(parts) - 1)
    return " ".join(f"{n}{unit}" for n, unit in parts[first : first + 2] if n or first == 3)


def _when(nudge: Nudge, now_ms: int) -> str:
    if nudge.state == "breached":
        return f"late by {duration(now_ms - nudge.deadline_ms)}"
    left = nudge.deadline_ms - now_ms
    return f"due in {duration(left)}" if left > 0 else f"due now, {duration(-left)} ago"


def _deadline(nudge: Nudge, zone: ZoneInfo) -> str:
    at = datetime.fromtimestamp(nudge.deadline_ms / 1000, zone)
    return f"{at:%Y-%m-%d %H:%M:%S} {zone.key}"


def _line(nudge: Nudge, now_ms: int, zone: ZoneInfo, link: Link) -> str:
    priority = f" ({nudge.priority})" if nudge.priority else ""
    return (
        f"{nudge.channel} conversation{priority}: {TARGET_WORDS.get(nudge.target, nudge.target)} "
        f"{_when(nudge, now_ms)} (deadline {_deadline(nudge, zone)}). {link(nudge.conversation_id)}"
    )


def message(nudge: Nudge, now_ms: int, zone: ZoneInfo, link: Link) -> dict[str, str]:
    """One nudge's webhook body: its text reads on its own."""
    head = "At risk" if nudge.state == "warning" else "Late"
    return {"text": f"{head}, {nudge.brand}: {_line(nudge, now_ms, zone, link)}"}


def digest(
    brand: str, nudges: Sequence[Nudge], now_ms: int, zone: ZoneInfo, link: Link
) -> dict[str, str]:
    """The nudges held over a brand's quiet hours, in one message: late first, then at risk,
    each by deadline."""
    ordered = sorted(nudges, key=lambda n: (n.state != "breached", n.deadline_ms, n.clock))
    late = sum(n.state == "breached" for n in ordered)
    lines = [
        f"{brand}, while you were away: {late} late, {len(ordered) - late} at risk.",
        *(
            f"- {'Late' if n.state == 'breached' else 'At risk'}: {_line(n, now_ms, zone, link)}"
            for n in ordered
        ),
    ]
    return {"text": "\n".join(lines)}
