"""``ascolto indices``: the Elasticsearch index lifecycle (docs/index-lifecycle.md).

``status`` lists each kind's concrete indices: period, documents, size, the write index, when
each is due for deletion. ``maintain`` makes the current and next periods' indices, rolls a
period over by size and deletes what is past its retention (a CronJob runs it hourly).
Each sub-command registers itself in ``register`` below.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from ascolto.config import Settings
from ascolto.index_maintenance import IndexState, maintain, status
from ascolto.search import client

COLUMNS = ("index", "period", "docs", "size", "write", "delete after")


def _status(settings: Settings, args: argparse.Namespace) -> int:
    states = status(settings.elastic, client(settings.elastic))
    if args.format == "json":
        print(json.dumps([s.as_json() for s in states], indent=2))
        return 0
    rows = [COLUMNS] + [_row(s) for s in states]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _row(s: IndexState) -> tuple[str, ...]:
    return (
        s.index,
        s.period or "legacy",
        str(s.docs),
        f"{s.size_bytes / 1e6:.1f} MB",
        "yes" if s.write else "",
        s.delete_after.strftime("%Y-%m-%d %H:%M") if s.delete_after else "never (empty)",
    )


def _maintain(settings: Settings, args: argparse.Namespace) -> int:
    now = args.now or datetime.now(UTC)
    done = maintain(settings.elastic, client(settings.elastic), now)
    for verb, names in (
        ("created", done.created),
        ("rolled over to", done.rolled_over),
        ("deleted", done.deleted),
    ):
        for name in names:
            print(f"{verb} {name}")
    return 0


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    indices = sub.add_parser("indices", help="Elasticsearch indices: status, maintain")
    isub = indices.add_subparsers(dest="indices_command", required=True)
    show = isub.add_parser("status", help="each kind's indices, sizes, write index, deletion due")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(func=_status)
    upkeep = isub.add_parser(
        "maintain", help="create the coming periods' indices, roll over by size, apply retention"
    )
    upkeep.add_argument(
        "--now", type=_instant, help="act as if it were this time (ISO-8601; default: now)"
    )
    upkeep.set_defaults(func=_maintain)
    from ascolto.index_migration import register as register_migrate

    register_migrate(isub)
