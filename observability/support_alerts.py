"""Alerts on the support team's own tools: the SLA policy file the workers reload
(streams/policy_reload.py, docs/sla-policies.md) and the nudger's webhooks (services/nudges.py,
docs/nudges.md). Tickets: nothing is lost while they fire, but someone should act today.
Each has a section in docs/runbook.md; tests: deploy/prometheus/tests/support-tools.test.yml.
"""

from __future__ import annotations

from observability.rules import Alert, Group
from observability.selectors import (
    NUDGE_WEBHOOK_REFUSALS,
    NUDGE_WEBHOOK_RETRIES,
    SLA_POLICY_REFUSED,
    SLA_POLICY_SINCE,
    sum_increase,
)

# How long a refusal is news when no new version follows it: a file put back as it was in
# force is no new version, so without a bound the alert would never clear.
REFUSAL_WINDOW = "6h"
SAME_WORKER = "on (job, instance)"


def refused_after_newest_version(step: str = "1m", step_s: int = 60) -> str:
    """Per worker: its refusal count now, against its count when the newest version had
    already taken effect (the lowest over the window's `step`s at which the version in force
    was today's). Higher: a file was refused after the newest version, so the file is still
    not one the worker accepted. A worker younger than the window whose newest version is
    older than its first sample by more than a step (it started with an invalid file, and
    kept the version recorded before) counts from 0; the step's margin, as the first step
    sees a sample up to a step after the series began, so that a fix soon after a start never
    reads as older than the start."""
    first_sample = f"min_over_time(timestamp({SLA_POLICY_REFUSED})[{REFUSAL_WINDOW}:{step}])"
    return (
        f"{SLA_POLICY_REFUSED}\n"
        f"> {SAME_WORKER}\n"
        "(\n"
        "    (\n"
        f"        {SLA_POLICY_REFUSED} * 0\n"
        f"      unless {SAME_WORKER}\n"
        f"        {SLA_POLICY_REFUSED} offset {REFUSAL_WINDOW}\n"
        f"      unless {SAME_WORKER}\n"
        f"        {SLA_POLICY_SINCE} + {step_s}\n"
        f"        >= {SAME_WORKER}\n"
        f"        {first_sample}\n"
        "    )\n"
        "  or\n"
        "    min_over_time(\n"
        "      (\n"
        f"          {SLA_POLICY_REFUSED}\n"
        f"        and {SAME_WORKER}\n"
        f"          {SLA_POLICY_SINCE}\n"
        f"          == {SAME_WORKER}\n"
        f"          {SLA_POLICY_SINCE} @ end()\n"
        f"      )[{REFUSAL_WINDOW}:{step}]\n"
        "    )\n"
        ")\n"
    )


# A changed policy file that a worker refused, with no version accepted since: the old
# targets silently stay in force. Per worker: each looks at its own copy of the file.
SLA_POLICY_REFUSED_ALERT = Alert(
    "SlaPolicyRefused",
    refused_after_newest_version(),
    "1m",
    "ticket",
    "support",
    summary="The SLA policy file was refused by worker {{ $labels.instance }}",
    description="Worker {{ $labels.instance }} refused a changed SLA policy file as invalid "
    "and has accepted no version since: the previous version stays in force, so clocks keep "
    f"the old targets. Clears when a fixed file takes effect, or {REFUSAL_WINDOW} after the "
    "refusal.",
)

# A brand's webhook answered a 4xx (not 429) in the last 30 minutes: revoked, deleted or
# mistyped. The nudge is not retried; the team did not hear of it.
NUDGES_REFUSED = Alert(
    "NudgesRefused",
    f"{sum_increase(NUDGE_WEBHOOK_REFUSALS, '30m', 'brand')} > 0\n",
    "1m",
    "ticket",
    "support",
    summary="{{ $labels.brand }}: its nudge webhook refuses the nudges",
    description="The webhook of {{ $labels.brand }} refused nudges {{ $value | humanize }} "
    "times (HTTP 4xx) in the last 30 minutes: its team was not told of those conversations at "
    "risk or late, and they are not sent again.",
)

# A brand's webhook keeps failing (5xx, 429, no answer): over 10 retries in 15 minutes, for
# 15 minutes. The nudger retries, then reads the batch again from its commit, so nothing is
# lost, but nothing newer reaches any brand while one webhook blocks the batch.
NUDGE_WEBHOOK_FAILING = Alert(
    "NudgeWebhookFailing",
    f"{sum_increase(NUDGE_WEBHOOK_RETRIES, '15m', 'brand')} > 10\n",
    "15m",
    "ticket",
    "support",
    summary="{{ $labels.brand }}: its nudge webhook keeps failing",
    description="The webhook of {{ $labels.brand }} needed {{ $value | humanize }} retries in "
    "the last 15 minutes (5xx, 429 or no answer), for 15 minutes: nudges are late for every "
    "brand until it answers again.",
)

SUPPORT_TOOLS = Group(
    "ascolto-support-tools",
    [SLA_POLICY_REFUSED_ALERT, NUDGES_REFUSED, NUDGE_WEBHOOK_FAILING],
)
