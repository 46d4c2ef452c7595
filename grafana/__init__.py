"""Ascolto's Grafana dashboards as code.

    .venv/bin/python -m grafana.dashboards           regenerate grafana/dashboards/*.json
    .venv/bin/python -m grafana.dashboards --check   fail if the committed JSON is stale

Run from the repository root (`make grafana` does). Modules, in reading order:

    sla_targets.py      per-channel SLA targets, read from deploy/config/sla-policies.yaml
    panels.py           the house style: datasource, queries, panel and threshold helpers
    sla_overview.py     "Ascolto — SLA overview"
    pipeline_health.py  "Ascolto — pipeline health"
    dashboards.py       the generator (writes and checks the JSON)
    queries.py          every panel's PromQL, read back from the JSON, variables filled in

`grafana.queries` only needs the standard library, so tests can import it without the
Grafana SDK: `from grafana.queries import all_queries` from the repository root (pytest puts
the root on sys.path), or load grafana/queries.py by path with importlib.
"""
