"""Every panel's PromQL, read back from the generated dashboards, ready to evaluate.

    from observability.queries import all_queries
    for uid, title, expr in all_queries():
        ...  # e.g. GET /api/v1/query?query=<expr> on the stack's Prometheus

Standard library only (no Grafana SDK needed). Grafana's variables are filled in the way
Grafana would with "All" selected: `$brand`, `$channel`, `$instance` become the regex
`.*` (every panel uses them with `=~`), `$__rate_interval` and `$__range` become fixed
windows. Pass `values` to override any of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from observability import DASHBOARDS_DIR

SAMPLE_VALUES: Mapping[str, str] = {
    "brand": ".*",
    "channel": ".*",
    "instance": ".*",
    "datasource": "ascolto-prometheus",
    "__rate_interval": "1m",  # Grafana: max(4 x scrape interval, step + scrape interval)
    "__interval": "15s",
    "__range": "1h",
}
# $name, ${name}, ${name:format} and [[name]], the spellings Grafana accepts
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def substitute(expr: str, values: Mapping[str, str] | None = None) -> str:
    """Fill in Grafana's variables; an unknown variable is an error, not left in place."""
    table = {**SAMPLE_VALUES, **(values or {})}

    def one(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in table:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return table[name]

    return _VARIABLE.sub(one, expr)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # collapsed rows hold their panels


def panel_queries(dashboard: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, raw expr) of every Prometheus target, variables left as written."""
    for panel in _panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            if target.get("expr") and not target.get("hide"):
                yield panel.get("title", ""), target["expr"]


def all_queries(
    values: Mapping[str, str] | None = None, dashboards_dir: Path = DASHBOARDS_DIR
) -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) for every panel query of every dashboard."""
    out = []
    for path in sorted(dashboards_dir.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for title, expr in panel_queries(dashboard):
            out.append((dashboard["uid"], title, substitute(expr, values)))
    return out


if __name__ == "__main__":
    for uid, title, expr in all_queries():
        print(f"# {uid} / {title}\n{expr}\n")
