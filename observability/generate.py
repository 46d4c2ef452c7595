"""Generate the rule files and the dashboards' JSON from the Python definitions, or check
that the committed ones are current.

    .venv/bin/python -m observability           write the files that changed
    .venv/bin/python -m observability --check   exit 1 (and say which) if any is stale

The rule files are written twice: for Prometheus (deploy/prometheus/rules/, where promtool
tests them) and into the Helm chart (deploy/helm/ascolto/files/rules/), whose PrometheusRule
reads them with .Files.Get, since a chart cannot read files outside its directory.

The generated files are committed: Prometheus and Grafana load them as they are, and
reviewers see what changed. Inputs beside the Python: the settings (the runbook's base URL,
the SLA policy file), read from the environment as every entry point does.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ascolto.config import ConfigError, Settings
from observability import (
    CHART_RULES_DIR,
    DASHBOARDS_DIR,
    ROOT,
    RULES_DIR,
    alertmanager,
    alerts,
    dashboards,
    infra_alerts,
    recording,
)
from streams.sla.policy import load_policy

RULE_FILES = (recording.FILE, alerts.FILE, infra_alerts.FILE)


@dataclass(frozen=True)
class Output:
    """A directory of generated files: every file matching `pattern` there is generated."""

    directory: Path
    pattern: str
    files: Mapping[str, str]  # file name -> text

    def stale(self) -> list[str]:
        """Problems with the committed files: missing, different, or left over."""
        problems = [
            f"{self._where(name)}: "
            f"{'differs from' if (self.directory / name).exists() else 'missing, expected by'} "
            "the generator"
            for name, text in self.files.items()
            if not (self.directory / name).exists() or (self.directory / name).read_text() != text
        ]
        problems += [
            f"{self._where(path.name)}: not produced by the generator (delete it, or generate it)"
            for path in sorted(self.directory.glob(self.pattern))
            if path.name not in self.files
        ]
        return problems

    def write(self) -> list[str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in self.files.items():
            path = self.directory / name
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                written.append(self._where(name))
        return written

    def _where(self, name: str) -> str:
        path = self.directory / name
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def outputs(
    settings: Settings, rules_dir: Path = RULES_DIR, dashboards_dir: Path = DASHBOARDS_DIR
) -> list[Output]:
    policy = load_policy(settings.worker.sla_policies_path)
    return [
        rules_output(settings, rules_dir),
        Output(dashboards_dir, "*.json", dashboards.render(policy)),
    ]


def rules_output(settings: Settings, directory: Path) -> Output:
    base_url = settings.observability.runbook_base_url
    return Output(directory, "*.yml", {f.name: f.render(base_url) for f in RULE_FILES})


def every_output(settings: Settings) -> list[Output]:
    """What `python -m observability` writes and checks: the outputs, the chart's rules and
    Alertmanager's configuration."""
    return [
        *outputs(settings),
        rules_output(settings, CHART_RULES_DIR),
        alertmanager_output(settings, RULES_DIR.parent),
    ]


def alertmanager_output(settings: Settings, directory: Path) -> Output:
    return Output(
        directory, alertmanager.FILE, {alertmanager.FILE: alertmanager.generate(settings)}
    )


def main(argv: list[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    parser = argparse.ArgumentParser(prog="python -m observability", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    args = parser.parse_args(argv)
    try:
        generated = every_output(Settings.from_env(env))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        problems = [problem for output in generated for problem in output.stale()]
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run `make grafana` and commit the result", file=sys.stderr)
            return 1
        count = sum(len(output.files) for output in generated)
        print(f"observability: {count} generated files up to date")
        return 0
    written = [name for output in generated for name in output.write()]
    print(f"observability: {', '.join(written) if written else 'nothing changed'}")
    return 0
