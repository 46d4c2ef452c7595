"""The "Support team" row of the pipeline health dashboard: are the support team's own moving
parts working? The nudger's nudges and webhooks (services/nudges.py, docs/nudges.md) and the
SLA policy version the workers judge by (streams/policy_reload.py, docs/sla-policies.md).
Their alerts: observability/support_alerts.py.
"""

from __future__ import annotations

from observability import selectors as m
from observability.dashboards.panels import (
    INSTANCE,
    RATE,
    PanelBuilder,
    stat_panel,
    target,
    timeseries_panel,
)
from observability.selectors import sel, sum_increase


def panels() -> list[PanelBuilder]:
    return [
        timeseries_panel(
            "Nudges by state and outcome",
            "Nudges to the brands' teams per interval: sent, digest (sent in one), held (for "
            "a digest after quiet hours), dropped (answered or retracted first), refused (a "
            "4xx: NudgesRefused). Empty while no nudger runs.",
            [target(sum_increase(m.NUDGES, RATE, "state, outcome"), "{{state}} {{outcome}}")],
            "short",
            span=8,
            stack=True,
            bars=True,
        ),
        timeseries_panel(
            "Nudge webhook refusals and retries by brand",
            "Webhook calls per interval: refused for good (a 4xx: NudgesRefused) and retried "
            "(a 5xx, 429 or no answer: NudgeWebhookFailing past 10 in 15 minutes).",
            [
                target(sum_increase(m.NUDGE_WEBHOOK_REFUSALS, RATE, "brand"), "refused {{brand}}"),
                target(sum_increase(m.NUDGE_WEBHOOK_RETRIES, RATE, "brand"), "retried {{brand}}"),
            ],
            "short",
            span=8,
            bars=True,
        ),
        stat_panel(
            "SLA policy in force since",
            "When the newest SLA policy version took effect, per worker: a changed valid file "
            "applies to clocks started from then on. Workers that disagree for longer than a "
            "reload interval (10 s) read different files.",
            [
                target(
                    f"max by (instance) ({sel(m.SLA_POLICY_SINCE, INSTANCE)}) * 1000",
                    "{{instance}}",
                    instant=True,
                )
            ],
            "dateTimeFromNow",
            span=4,
            height=8,
        ),
        stat_panel(
            "SLA policy files refused",
            "Changed policy files each worker refused as invalid since it started (once per "
            "content); the version in force stayed. SlaPolicyRefused fires while a refusal is "
            "newer than that version.",
            [
                target(
                    f"sum by (instance) ({sel(m.SLA_POLICY_REFUSED, INSTANCE)})",
                    "{{instance}}",
                    instant=True,
                )
            ],
            "short",
            span=4,
            height=8,
        ),
    ]
