"""Visibility of a contact and priority P1 (most urgent) .. P4 of an inbound one.

Priority is a points table (the `priority:` section of ascolto/defaults/intents.yaml):

    score = points[intent] + points[sentiment] + points[customer tier] + points[visibility]

where sentiment is the label, or "unmeasured" for languages sentiment does not cover,

and the score falls into a band: P1 if score >= bands.P1, else P2 if >= bands.P2, else P3 if
>= bands.P3, else P4. Because the score is a sum, raising one factor (public instead of
private, vip instead of standard) never lowers the priority; whether it raises it by a band
depends on the table, and tests/unit/test_enrich_priority.py checks the properties the business asks
for on the shipped table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from streams.rules.intent import INTENTS, RuleError, check_keys

Visibility = Literal["public", "private"]
Priority = Literal["P1", "P2", "P3", "P4"]

UNKNOWN_TIER: Final = "unknown"
# Sentiment row used when the sentiment was not measured (neither English nor Italian).
UNMEASURED: Final = "unmeasured"
_SENTIMENT_ROWS = ("negative", "neutral", "positive", UNMEASURED)
_VISIBILITIES: tuple[Visibility, ...] = ("public", "private")
_BANDS: tuple[Priority, ...] = ("P1", "P2", "P3")
_KEYS = frozenset({"intent", "sentiment", "tier", "visibility", "bands"})
_TRUE = "true"


def visibility(channel: str, attributes: Mapping[str, str] | None) -> Visibility:
    """Social posts are public unless the source marks a private message (a DM)."""
    if channel != "social":
        return "private"
    attrs = attributes or {}
    if attrs.get("private", "").lower() == _TRUE or attrs.get("dm", "").lower() == _TRUE:
        return "private"
    return "public"


@dataclass(frozen=True)
class PriorityTable:
    intent: Mapping[str, int]
    sentiment: Mapping[str, int]
    tier: Mapping[str, int]
    visibility: Mapping[str, int]
    bands: Mapping[Priority, int]

    def score(self, intent: str, sentiment: str, tier: str | None, vis: str) -> int:
        """sentiment: a label, or UNMEASURED."""
        tier_key = tier.strip().lower() if tier else UNKNOWN_TIER
        return (
            self.intent[intent]
            + self.sentiment[sentiment]
            + self.tier.get(tier_key, self.tier[UNKNOWN_TIER])
            + self.visibility[vis]
        )

    def priority(self, intent: str, sentiment: str, tier: str | None, vis: str) -> Priority:
        s = self.score(intent, sentiment, tier, vis)
        for band in _BANDS:
            if s >= self.bands[band]:
                return band
        return "P4"


def _points(raw: object, where: str, required: tuple[str, ...], extra_ok: bool) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where} must be a mapping of name: points")
    table: dict[str, int] = {}
    for key, value in raw.items():
        name = str(key).strip().lower()
        if not extra_ok and name not in required:
            raise RuleError(f"{where}: unknown key {key!r} (allowed: {', '.join(required)})")
        if isinstance(value, bool) or not isinstance(value, int):
            raise RuleError(f"{where}.{key}: points must be a whole number, got {value!r}")
        table[name] = value
    missing = [k for k in required if k not in table]
    if missing:
        raise RuleError(f"{where}: missing {', '.join(missing)}")
    return table


def parse_priority(raw: object) -> PriorityTable:
    """The `priority:` section of the rules file."""
    raw = check_keys(raw, _KEYS, "priority")
    bands = _points(raw.get("bands"), "priority.bands", ("p1", "p2", "p3"), extra_ok=False)
    if not bands["p1"] > bands["p2"] > bands["p3"]:
        raise RuleError(f"priority.bands: need P1 > P2 > P3, got {bands}")
    return PriorityTable(
        intent=_points(raw.get("intent"), "priority.intent", INTENTS, extra_ok=False),
        sentiment=_points(
            raw.get("sentiment"), "priority.sentiment", _SENTIMENT_ROWS, extra_ok=False
        ),
        tier=_points(raw.get("tier"), "priority.tier", (UNKNOWN_TIER,), extra_ok=True),
        visibility=_points(raw.get("visibility"), "priority.visibility", _VISIBILITIES, False),
        bands={"P1": bands["p1"], "P2": bands["p2"], "P3": bands["p3"]},
    )
