"""Per-channel SLA targets for colouring panels, read from the SLA policy file.

The dashboards colour response times and waiting ages against the policy the pipeline
enforces, so a change to deploy/config/sla-policies.yaml shows up as a stale dashboard in
`make check-observability` until `make grafana` regenerates the JSON.

Only the channel view is taken: for each channel, the rule matching exactly that channel,
else the catch-all `default` rule. Priority and tier rules are not drawn (a panel has one
set of colours per channel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from streams.metrics import CHANNELS
from streams.sla.syntax import parse_duration

POLICY_PATH = Path(__file__).resolve().parent.parent / "deploy" / "config" / "sla-policies.yaml"
DEFAULT_WARNING_RATIO = 0.75


@dataclass(frozen=True)
class ChannelSla:
    channel: str
    first_response_s: int
    next_response_s: int
    hard_limit_s: int | None
    warning_ratio: float

    @property
    def warning_s(self) -> int:
        """When the SLA warning is raised for a first response."""
        return math.ceil(self.first_response_s * self.warning_ratio)


def channel_targets(path: Path = POLICY_PATH) -> list[ChannelSla]:
    """One ChannelSla per channel the worker knows, in streams.metrics.CHANNELS order."""
    data = yaml.safe_load(path.read_text())
    ratio = float(data.get("warning_ratio", DEFAULT_WARNING_RATIO))
    rules = data["rules"]
    default = next(r for r in rules if not r.get("match"))
    by_channel = {
        r["match"]["channel"]: r for r in rules if set(r.get("match") or {}) == {"channel"}
    }
    out = []
    for channel in CHANNELS:
        rule = by_channel.get(channel, default)
        targets = {**default["targets"], **rule["targets"]}
        hard = rule["targets"].get("hard_limit")
        out.append(
            ChannelSla(
                channel=channel,
                first_response_s=parse_duration(targets["first_response"]),
                next_response_s=parse_duration(targets["next_response"]),
                hard_limit_s=parse_duration(hard) if hard else None,
                warning_ratio=float(rule.get("warning_ratio", ratio)),
            )
        )
    return out
