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
