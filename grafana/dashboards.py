"""Generate grafana/dashboards/*.json from the Python definitions, or check they are current.

    .venv/bin/python -m grafana.dashboards           write the JSON files
    .venv/bin/python -m grafana.dashboards --check   exit 1 (and say which) if any is stale

The JSON files are committed: Grafana provisions them as they are, and reviewers see what
changed. One file per dashboard, named after its uid.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

from grafana import pipeline_health, sla_overview

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DASHBOARDS: dict[str, Callable[[], dm.Dashboard]] = {
    sla_overview.UID: sla_overview.dashboard,
    pipeline_health.UID: pipeline_health.dashboard,
}


def render() -> dict[str, str]:
    """File name -> JSON text, exactly as written to grafana/dashboards/."""
    encoder = JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False)
    return {f"{uid}.json": encoder.encode(build()) + "\n" for uid, build in DASHBOARDS.items()}


def stale(out_dir: Path = OUT_DIR) -> list[str]:
    """Problems with the committed files: missing, different, or left over."""
    wanted = render()
    problems = [
        f"{name}: {'differs from' if (out_dir / name).exists() else 'missing, expected by'} "
        "the generator"
        for name, text in wanted.items()
        if not (out_dir / name).exists() or (out_dir / name).read_text() != text
    ]
    problems += [
        f"{path.name}: not produced by the generator (delete it, or add it to DASHBOARDS)"
        for path in sorted(out_dir.glob("*.json"))
        if path.name not in wanted
    ]
    return problems


def write(out_dir: Path = OUT_DIR) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = out_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.dashboards", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the JSON is stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(f"grafana/dashboards/{problem}", file=sys.stderr)
        if problems:
            print("run `make grafana` and commit the result", file=sys.stderr)
            return 1
        print(f"grafana/dashboards: {len(DASHBOARDS)} dashboards up to date")
        return 0
    written = write()
    print(f"grafana/dashboards: {', '.join(written) if written else 'nothing changed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
