"""Sub-commands beyond running the services: importers and the report."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson
import yaml

from ascolto.config import CONFIG_DIR, Settings


def _import_twitter(settings: Settings, args: argparse.Namespace) -> int:
    from services.importers.run import print_summary, run_import
    from services.importers.twitter import read_archive

    result = run_import(
        settings,
        lambda progress: read_archive(args.file, on_progress=progress),
        wait=args.wait,
        progress=not args.quiet,
    )
    print_summary(result)
    return result.exit_code


def _import_mbox(settings: Settings, args: argparse.Namespace) -> int:
    from services.importers.email import read_mail
    from services.importers.run import print_summary, run_import

    agents = yaml.safe_load(Path(args.agents).read_text())
    if not isinstance(agents, dict) or not agents:
        print(f"{args.agents}: expected a mapping of agent address or @domain to brand")
        return 2
    result = run_import(
        settings,
        lambda progress: read_mail(args.path, agents, on_progress=progress),
        wait=args.wait,
        progress=not args.quiet,
    )
    print_summary(result)
    return result.exit_code


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from ascolto.search import client
    from services.report import customer_messages, render_table, summarise

    if args.since is not None and args.until is not None and args.since >= args.until:
        print("ascolto report: --since must be before --until", file=sys.stderr)
        return 2
    es = client(settings.elastic)
    es.indices.refresh(index=settings.elastic.contacts)
    if args.format == "html":
        from services.report_html import collect, render

        now_ms = int(time.time() * 1000)
        text = render(collect(es, settings, args.by, args.since, args.until, now_ms))
    else:
        alias = settings.elastic.contacts
        report = summarise(customer_messages(es, alias, args.since, args.until), args.by)
        if args.format == "json":
            text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"
        else:
            text = render_table(report, args.by) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def date_argument(text: str) -> int:
    """--since/--until of the report and what-if: epoch ms (services.report.parse_date)."""
    from services.report import parse_date

    try:
        return parse_date(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _duration(text: str) -> int:
    from streams.sla.syntax import parse_duration

    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1 (got {text!r})")
    return value


def _sla_at_risk(settings: Settings, args: argparse.Namespace) -> int:
    from ascolto.search import client
    from services.report import at_risk, render_at_risk

    es = client(settings.elastic)
    es.indices.refresh(index=settings.elastic.contacts)
    rows = at_risk(
        es,
        settings.elastic.contacts,
        limit=args.limit,
        brand=args.brand,
        overdue_for_s=args.overdue_for,
    )
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(render_at_risk(rows))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from services.report import GROUPINGS

    imp = sub.add_parser("import", help="import an archive through the ingest service")
    isub = imp.add_subparsers(dest="import_command", required=True)
    tw = isub.add_parser("twitter-archive", help="a Customer Support on Twitter CSV")
    tw.add_argument("file")
    mb = isub.add_parser("mbox", help="an mbox file or a folder of .eml files")
    mb.add_argument("path")
    mb.add_argument(
        "--agents", default=str(CONFIG_DIR / "email-agents.yaml"),
        help="YAML mapping of agent addresses/@domains to brands",
    )  # fmt: skip
    for p, func in ((tw, _import_twitter), (mb, _import_mbox)):
        p.add_argument("--wait", action="store_true", help="return once all is searchable")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(func=func)

    rep = sub.add_parser("report", help="answered, unanswered and response times per group")
    rep.add_argument("--by", choices=GROUPINGS, default="brand")
    rep.add_argument("--format", choices=("table", "json", "html"), default="table")
    for bound, meaning in (("since", "from (included)"), ("until", "up to (excluded)")):
        rep.add_argument(
            f"--{bound}", type=date_argument, metavar="DATE",
            help=f"customer messages that occurred {meaning} DATE: 2017-10-01 (midnight UTC) "
            "or an ISO-8601 time",
        )  # fmt: skip
    rep.add_argument("--output", metavar="FILE", help="write the report there, not to stdout")
    rep.set_defaults(func=_report)

    sla = sub.add_parser("sla", help="SLA views")
    ssub = sla.add_subparsers(dest="sla_command", required=True)
    risk = ssub.add_parser(
        "at-risk", help="unanswered conversations closest to their deadline, overdue ones first"
    )
    risk.add_argument("--limit", type=positive_int, default=20)
    risk.add_argument("--brand")
    risk.add_argument(
        "--overdue-for",
        type=_duration,
        default="1d",
        metavar="DURATION",
        help="list breached, still unanswered messages up to this long past their deadline "
        "(30m, 6h, 1d; default 1d)",
    )
    risk.add_argument("--format", choices=("table", "json"), default="table")
    risk.set_defaults(func=_sla_at_risk)
    from services import whatif  # the history re-timed under a proposed policy

    whatif.register(ssub)
