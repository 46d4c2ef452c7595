"""Per-channel SLA targets for colouring panels, as the worker's policy sets them.

Read through streams.sla.policy (its loader and model), so the dashboards colour response
times and waiting ages against exactly what the pipeline enforces: a change to the policy
file shows up as a stale dashboard in `make check-observability` until `make grafana`
regenerates the JSON.

Only the channel view is drawn (a panel has one set of colours per channel): the rule the
policy picks for a clock of that channel with no priority, no tier and a brand no rule names
(a brand's own targets are not drawn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from streams.sla.model import CHANNELS
from streams.sla.policy import Policy


@dataclass(frozen=True)
class ChannelSla:
    channel: str
    first_response_s: int
    next_response_s: int
    hard_limit_s: int | None
    warning_ratio: float

    @property
    def warning_s(self) -> int:
        """When the SLA warning is raised for a first response (rounded up, exactly, as
        streams.sla.clock does)."""
        return math.ceil(Fraction(str(self.warning_ratio)) * self.first_response_s)


def channel_targets(policy: Policy) -> list[ChannelSla]:
    """One ChannelSla per channel, in streams.sla.model.CHANNELS order."""
    out = []
    for channel in CHANNELS:
        first = policy.match("first_response", channel, brand=None)
        following = policy.match("next_response", channel, brand=None)
        hard = policy.match("hard_limit", channel, brand=None)
        # the catch-all rule sets both response targets, so these always resolve
        assert first is not None and following is not None
        out.append(
            ChannelSla(
                channel=channel,
                first_response_s=first.target_s("first_response"),
                next_response_s=following.target_s("next_response"),
                hard_limit_s=hard.target_s("hard_limit") if hard else None,
                warning_ratio=first.warning_ratio,
            )
        )
    return out


def duration(seconds: int) -> str:
    """3600 -> "1h", 300 -> "5m": the policy file's own spelling, in its largest exact unit
    up to hours (a day of running time is "24h", as the policy writes it)."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def targets_text(slas: Sequence[ChannelSla]) -> str:
    """ "social 1h, email 6h (24h hard), ...": the first-response targets, for a description."""
    return ", ".join(
        f"{sla.channel.replace('_', ' ')} {duration(sla.first_response_s)}"
        + (f" ({duration(sla.hard_limit_s)} hard)" if sla.hard_limit_s else "")
        for sla in slas
    )
