"""Ascolto's observability from one source, in the style of the monitoring mixins: the
Prometheus rules and the Grafana dashboards are Python, built from one definition of the
jobs, metric names and label matchers, and generated into the files the servers load.

    .venv/bin/python -m observability           regenerate (`make grafana`; commit the result)
    .venv/bin/python -m observability --check   fail if a generated file is stale

Modules, in reading order:

    selectors.py        jobs, metric and recording-rule names, matchers, shared expressions
    rules.py            alert and recording rules as data, rendered to Prometheus's YAML
    recording.py        the recording rules  -> deploy/prometheus/rules/ascolto-recording.yml
    alerts.py           the alerts           -> deploy/prometheus/rules/ascolto-alerts.yml
                        (both rule files also -> deploy/helm/ascolto/files/rules/)
    dashboards/         the dashboards       -> grafana/dashboards/<uid>.json
    alertmanager.py     Alertmanager's configuration, from the alert routing file
                        (receivers.py, inhibitions.py) -> deploy/prometheus/alertmanager.yml
    generate.py         the generator (writes and checks every generated file)
    queries.py          every panel's PromQL, read back from the JSON, variables filled in

Each alert's runbook_url is settings.observability.runbook_base_url (ASCOLTO_RUNBOOK_BASE_URL)
with the alert's name as anchor; docs/runbook.md has one section per alert. The SLA colours
come from the policy file the worker enforces (ASCOLTO_SLA_POLICIES), read by
streams.sla.policy. Hand-written beside the generated files: deploy/prometheus/prometheus.yml
and the promtool rule tests (deploy/prometheus/tests/), and Grafana's provisioning
(grafana/provisioning/, grafana/docker-compose.yml).

This module and `queries` need only the standard library.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
DASHBOARDS_DIR = ROOT / "grafana" / "dashboards"
CHART_RULES_DIR = ROOT / "deploy" / "helm" / "ascolto" / "files" / "rules"
