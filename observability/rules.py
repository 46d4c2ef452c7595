"""Prometheus rules as data: groups of recording and alert rules, rendered to the YAML that
Prometheus loads (deploy/prometheus/rules/*.yml).

Every alert carries `severity` (page: someone acts now; ticket: someone acts today) and
`team` (platform: the pipeline; support: the customers), and annotations `summary`,
`description` and `runbook_url`: its section of the runbook, built from the one base URL
(settings.observability.runbook_base_url) and the alert's name. Alertmanager routes on
severity (deploy/prometheus/alertmanager.yml).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

Severity = Literal["page", "ticket"]
Team = Literal["platform", "support"]


def runbook_url(base_url: str, alert: str) -> str:
    """The alert's section of the runbook: GitHub's anchor for a `## AlertName` heading."""
    return f"{base_url}#{alert.lower()}"


@dataclass(frozen=True)
class Recording:
    record: str
    expr: str

    def to_yaml(self, runbook_base_url: str) -> dict[str, Any]:
        return {"record": self.record, "expr": self.expr}


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: Severity
    team: Team
    summary: str
    description: str

    def to_yaml(self, runbook_base_url: str) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, "team": self.team},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": runbook_url(runbook_base_url, self.name),
            },
        }


@dataclass(frozen=True)
class Group:
    name: str
    rules: Sequence[Recording | Alert]


@dataclass(frozen=True)
class RuleFile:
    """One file of deploy/prometheus/rules/: a header comment and its groups."""

    name: str
    header: str
    groups: Sequence[Group]

    def render(self, runbook_base_url: str) -> str:
        doc = {
            "groups": [
                {"name": g.name, "rules": [r.to_yaml(runbook_base_url) for r in g.rules]}
                for g in self.groups
            ]
        }
        return dump_yaml(doc, self.header)


def dump_yaml(doc: Any, header: str) -> str:
    """``doc`` as YAML (in the style of _Dumper) under ``header`` as a comment."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """YAML as a person would write it: lists indented under their key, multi-line
    expressions as literal blocks (`|`), long text folded (`>-`)."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else ">" if len(value) > 80 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
