"""``ascolto``: the project's one command-line entry point."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ascolto.config import ConfigError, Settings
from services.commands import positive_int


def _serve_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from services.ingest.app import serve

    serve(settings)
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from streams.worker import run

    sys.argv = [sys.argv[0], "worker"]  # faust parses argv: hand it only its own command
    run(settings, loglevel=args.loglevel)
    return 0


def _indexer(settings: Settings, args: argparse.Namespace) -> int:
    from streams.indexer import serve

    serve(settings)
    return 0


def _setup(settings: Settings, args: argparse.Namespace) -> int:
    from ascolto.search import setup_indices
    from ascolto.topics import ensure_topics

    created = ensure_topics(settings.kafka, settings.worker.app_id)
    indices = setup_indices(settings.elastic)
    print(f"topics created: {', '.join(created) or 'none (all exist)'}")
    print(f"indices created: {', '.join(indices) or 'none (all exist)'}")
    return 0


def _acls(settings: Settings, args: argparse.Namespace) -> int:
    from kafka.errors import SecurityDisabledError

    from ascolto import acls

    users = args.principal or list(acls.PRINCIPALS)
    unknown = sorted(set(users) - set(acls.PRINCIPALS))
    if unknown:
        known = ", ".join(acls.PRINCIPALS)
        print(f"ascolto: no such principal {unknown[0]!r} (one of {known})", file=sys.stderr)
        return 2
    print(acls.table(acls.of(users, acls.grants(settings))))
    if args.apply:
        try:
            done = acls.apply(settings, users)
        except SecurityDisabledError:
            print("ascolto: the Kafka broker has no authorizer (restart it)", file=sys.stderr)
            return 1
        print(f"ACLs added: {len(done.add)}, removed: {len(done.remove)}")
    return 0


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    from services.erase import Erase, Incomplete, summary

    try:
        outcome = Erase(settings).run(args.customer, args.brand, args.wait, args.dry_run)
    except Incomplete as exc:
        print(f"ascolto: {exc}", file=sys.stderr)
        return 1
    print(summary(args.customer, outcome, args.dry_run))
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from services.demo_run import run_demo

    return run_demo(settings, n_threads=args.threads, timeout_s=args.timeout)


def _customers_load(settings: Settings, args: argparse.Namespace) -> int:
    from services.directory import load_file

    n = load_file(settings.kafka, args.file)
    print(f"published {n} directory entries to {settings.kafka.customers}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ascolto", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("serve-ingest", help="run the HTTP ingest service").set_defaults(
        func=_serve_ingest
    )
    worker = sub.add_parser("worker", help="run one Faust stream worker")
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(func=_worker)
    sub.add_parser(
        "indexer", help="run the index stage as its own process (with ASCOLTO_INDEX_INLINE=false)"
    ).set_defaults(func=_indexer)
    sub.add_parser("setup", help="create Kafka topics and Elasticsearch indices").set_defaults(
        func=_setup
    )
    acls = sub.add_parser("acls", help="print each Kafka principal's grants; --apply sets them")
    acls.add_argument("--apply", action="store_true", help="make the broker's ACLs equal them")
    acls.add_argument("--principal", action="append", help="only this user (repeatable)")
    acls.set_defaults(func=_acls)
    demo = sub.add_parser("demo", help="replay the bundled demo set and summarise the results")
    demo.add_argument("--threads", type=positive_int, default=120)
    demo.add_argument("--timeout", type=float, default=120.0)
    demo.set_defaults(func=_demo)

    customers = sub.add_parser("customers", help="the customer directory")
    csub = customers.add_subparsers(dest="customers_command", required=True)
    load = csub.add_parser("load", help="publish a directory file (JSON lines) to Kafka")
    load.add_argument("file")
    load.set_defaults(func=_customers_load)

    from services.commands import register  # importers, report, sla: their own module

    register(sub)
    erase = sub.add_parser("erase", help="erase a customer's data on request (docs/privacy.md)")
    erase.add_argument("--customer", required=True, help="a handle (@jane) or an e-mail address")
    erase.add_argument("--brand", help="only under this brand (default: every brand found)")
    erase.add_argument(
        "--wait", type=float, default=120.0, help="seconds to wait for the worker (default 120)"
    )
    erase.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    erase.set_defaults(func=_erase)
    from services import keys  # ingest API keys

    keys.register(sub)
    from services import dlq  # dead letters: list, show, replay

    dlq.register(sub)
    from services import lag_exporter  # consumer groups' lag for Prometheus

    lag_exporter.register(sub)
    from services import nudges  # conversations at risk and late, to the brands' teams

    nudges.register(sub)
    from services import indices  # Elasticsearch index lifecycle

    indices.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = None
    try:
        settings = Settings.from_env()
        return int(args.func(settings, args) or 0)
    except ConfigError as exc:
        print(f"ascolto: {exc}", file=sys.stderr)
        return 2
    except TimeoutError as exc:  # --wait and the demo: the pipeline did not settle in time
        print(f"ascolto: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from ascolto.clients import credentials_refused

        refused = credentials_refused(exc, settings.kafka) if settings else None
        if refused is None:
            raise
        print(f"ascolto: {refused}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
