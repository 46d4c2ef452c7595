"""Ascolto's Grafana dashboards as code, on grafana-foundation-sdk. Modules, in reading order:

    sla_targets.py      per-channel SLA targets, from the policy (streams.sla.policy)
    panels.py           the house style: datasource, queries, panel and threshold helpers
    sla_overview.py     "Ascolto — SLA overview"
    pipeline_health.py  "Ascolto — pipeline health"
    support_tools.py    its "Support team" row: nudges, webhooks, the SLA policy in force

One JSON file per dashboard, named after its uid (grafana/dashboards/<uid>.json).
"""

from __future__ import annotations

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from observability.dashboards import pipeline_health, sla_overview
from streams.sla.policy import Policy


def render(policy: Policy) -> dict[str, str]:
    """File name -> JSON text of every dashboard, sorted keys: the same input, the same bytes."""
    encoder = JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False)
    models = {
        sla_overview.UID: sla_overview.dashboard(policy),
        pipeline_health.UID: pipeline_health.dashboard(),
    }
    return {f"{uid}.json": encoder.encode(model) + "\n" for uid, model in models.items()}
