"""``ascolto sla what-if``: the stored history re-timed under a proposed SLA policy, beside
the current one (docs/what-if.md).

Read-only: it scans the contacts index (the fields the rules need) and writes nothing to
Kafka or Elasticsearch. The pure part is services.whatif_model; the chart services.whatif_chart.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ascolto.config import Settings
from services.commands import date_argument
from services.report import human_duration
from services.whatif_chart import chart_problem, draw
from services.whatif_model import FIELDS, History, Window, compare, retime
from streams.rules.threading import ThreadingParams
from streams.sla.policy import Policy, PolicyError, load_policy

FORMATS = ("table", "json")


def register(ssub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``what-if`` under the ``sla`` sub-parser."""
    p = ssub.add_parser(
        "what-if", help="re-time the stored history under a proposed policy, beside the current"
    )
    p.add_argument("--policy", required=True, metavar="NEW.yaml", help="the proposed policy")
    p.add_argument("--since", type=date_argument, metavar="DATE",
                   help="clocks started at or after (the customer message's time)")  # fmt: skip
    p.add_argument("--until", type=date_argument, metavar="DATE", help="clocks started before")
    p.add_argument("--brand", help="one brand's clocks only")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--chart", type=Path, metavar="FILE.png",
                   help="also draw share met, current vs proposed, per group")  # fmt: skip
    p.set_defaults(func=run)


def _policies(current: Path, proposed: Path) -> tuple[Policy, Policy] | list[str]:
    """Both policies, or every problem of either, one line each."""
    problems: list[str] = []
    loaded: list[Policy] = []
    for path in (current, proposed):
        try:
            loaded.append(load_policy(path))
        except PolicyError as exc:
            problems += exc.problems
    return problems if problems else (loaded[0], loaded[1])


def stored_contacts(settings: Settings) -> Iterator[dict[str, Any]]:
    from elasticsearch.helpers import scan

    from ascolto.search import client

    es = client(settings.elastic)
    query = {"query": {"match_all": {}}, "_source": list(FIELDS)}
    # a scroll, not point-in-time: it reads as `ascolto report` does, and writes nothing
    for hit in scan(es, index=settings.elastic.contacts, query=query, size=5000, scroll="2m"):
        yield hit["_source"]


def threading_params(settings: Settings) -> ThreadingParams:
    t = settings.worker.threading
    return ThreadingParams(
        thread_window_ms=t.thread_window_s * 1000,
        near_dup_window_ms=t.near_dup_window_s * 1000,
        inactivity_ms=t.inactivity_s * 1000,
    )


def what_if(
    settings: Settings, proposed: Policy, current: Policy, window: Window
) -> list[dict[str, Any]]:
    """The comparison rows (services.whatif_model.compare) of the stored history."""
    lateness_ms = settings.worker.sla.allowed_lateness_s * 1000
    history = History.of(stored_contacts(settings), lateness_ms)
    now = int(time.time() * 1000)
    params = threading_params(settings)
    return compare(
        retime(history, current, params, now, window),
        retime(history, proposed, params, now, window),
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    policies = _policies(settings.worker.sla_policies_path, Path(args.policy))
    if isinstance(policies, list):
        for problem in policies:  # a YAML error spans lines: one line each all the same
            print(f"ascolto: {' '.join(problem.split())}", file=sys.stderr)
        return 2
    try:
        window = Window(args.since, args.until, args.brand)
    except ValueError as exc:
        print(f"ascolto: {exc}", file=sys.stderr)
        return 2
    if args.chart is not None and (bad := chart_problem(args.chart)):
        print(f"ascolto: {bad}", file=sys.stderr)
        return 2
    current, proposed = policies
    rows = what_if(settings, proposed, current, window)
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(render_table(rows))
    if args.chart is not None:
        draw(rows, args.chart)
    return 0


SIDE = (
    ("met", "met"), ("breached", "breached"), ("open", "open"), ("met_share", "met %"),
    ("p50_seconds", "p50"), ("p90_seconds", "p90"), ("target_seconds", "target"),
)  # fmt: skip


def _cell(key: str, value: Any) -> str:
    if value is None or value == []:
        return "-"
    if key == "met_share":
        return f"{100 * value:.1f}%"
    if key in ("p50_seconds", "p90_seconds"):
        return human_duration(float(value))
    if key == "target_seconds":
        return "/".join(human_duration(float(v)) for v in value)
    return str(value)


def render_table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ["brand", "channel", "target"]
    header = head + [title for _ in ("current", "proposed") for _, title in SIDE]
    body = [
        [r["brand"], r["channel"], r["target"]]
        + [_cell(k, r[side][k]) for side in ("current", "proposed") for k, _ in SIDE]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    # a space between the two sides, and a title over each
    cut = len(head) + len(SIDE)
    left = sum(widths[len(head) : cut]) + 2 * (len(SIDE) - 1)
    right = sum(widths[cut:]) + 2 * (len(SIDE) - 1)
    lead = sum(widths[: len(head)]) + 2 * len(head)

    def line(cells: list[str]) -> str:
        text = [c.ljust(w) if i < len(head) else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))]  # fmt: skip
        return "  ".join(text[:cut]) + "   |  " + "  ".join(text[cut:])

    titles = " " * lead + "current policy".center(left) + "   |  " + "proposed".center(right)
    rule = ["-" * w for w in widths]
    if not body:
        return "(no SLA clock in the stored history matches the selection)"
    return "\n".join([titles.rstrip(), line(header), line(rule), *map(line, body)])
