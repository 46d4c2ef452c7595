"""``make bench``: the pipeline's throughput, latency and memory beside what Kafka and
Elasticsearch alone can do, measured in one run on the running local stack (``make up``).

    .venv/bin/python -m bench.run                 # ~200,000 contacts (about 15 minutes)
    .venv/bin/python -m bench.run --soak          # 1,000,000: memory growth over a long run
    .venv/bin/python -m bench.run --size 2000     # a smoke run (CI)

Every step runs on its own topics, indices and consumer groups (names starting with
``bench``), removed afterwards: the shared stack is never stopped or cleaned. The figures are
printed as a table and written to ``bench/results/latest.json`` and ``latest.png``, the only
files the bench writes into the tree; a copy of every run, and the profiles, go under
``.run/bench/`` (gitignored).
Targets are reported (``targets`` in the JSON), never enforced: the exit code says only
whether the benchmark itself ran.
"""

from __future__ import annotations

import argparse
import gc
import platform
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

from ascolto.clients import kafka_options
from ascolto.config import ROOT, Settings
from ascolto.search import client
from bench import ceilings, report
from bench.end_to_end import end_to_end
from bench.harness import (
    USED_NAMES,
    delete_groups,
    remove_leftovers,
    scratch_topics,
    unique_name,
)
from bench.ingest_stage import ingest_and_stage
from bench.monitor import Monitor, machine, run_dir
from bench.phases import Options
from bench.workload import Workload
from tests.support.stack import Pipeline

DEFAULT_SIZE = 200_000
SOAK_SIZE = 1_000_000
SOAK_RETENTION_S = 7 * 24 * 3600
RESULTS = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, help=f"contacts to post (default {DEFAULT_SIZE:,})")
    parser.add_argument(
        "--soak", action="store_true", help=f"{SOAK_SIZE:,} contacts, unless --size says"
    )
    parser.add_argument("--seed", type=int, default=1, help="workload seed (default 1)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder of latest.json and latest.png"
    )
    parser.add_argument(
        "--runs",
        type=Path,
        default=run_dir() / "bench" / "runs",
        help="folder that keeps a copy of every run, named by its time (default "
        ".run/bench/runs, outside the tree)",
    )
    parser.add_argument(
        "--latency-seconds", type=float, default=60.0, help="length of the paced phase"
    )
    parser.add_argument(
        "--paced-rate",
        type=float,
        help="contacts/s of the latency phase (default: half the measured end-to-end rate)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        nargs="?",
        const=run_dir() / "bench" / "profile",
        metavar="DIR",
        help="py-spy records the worker during the stage and the e2e phases, into DIR "
        "(default .run/bench/profile, outside the tree)",
    )
    parser.add_argument(
        "--es-sweep", action="store_true", help="also try bulk sizes and parallelism"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes in the pipeline (one consumer group; default 1)",
    )
    parser.add_argument(
        "--indexers",
        type=int,
        default=0,
        help="index-stage processes (ascolto indexer) beside the workers; default 0: the "
        "workers index themselves",
    )
    parser.add_argument(
        "--cleanup",
        metavar="PREFIX",
        help="only remove what a killed run left behind (topics, groups, indices named PREFIX*)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the ingest and worker processes (repeatable)",
    )
    args = parser.parse_args(argv)
    args.size = args.size or (SOAK_SIZE if args.soak else DEFAULT_SIZE)
    if args.size < 100:
        parser.error("--size must be at least 100")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.indexers < 0:
        parser.error("--indexers cannot be negative")
    return args


def stack_versions(es: Elasticsearch) -> dict[str, Any]:
    env_sh = (ROOT / "deploy" / "env.sh").read_text()

    def pinned(name: str) -> str | None:
        m = re.search(rf"^export {name}=(\S+)", env_sh, re.MULTILINE)
        return m.group(1) if m else None

    return {
        "python": platform.python_version(),
        "faust": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "kafka_python": version("kafka-python"),
        "elasticsearch_py": version("elasticsearch"),
        "aiohttp": version("aiohttp"),
        "kafka": pinned("ASCOLTO_KAFKA_VERSION"),
        "elasticsearch": pinned("ASCOLTO_ES_VERSION"),
        "elasticsearch_running": sorted(
            {n["version"] for n in es.nodes.info(filter_path="nodes.*.version")["nodes"].values()}
        ),
    }


def check_stack(settings: Settings) -> Elasticsearch:
    try:
        KafkaAdminClient(**kafka_options(settings.kafka)).close()
        es = client(settings.elastic)
        es.cluster.health(timeout="5s")
    except Exception as exc:
        message = f"the local stack is not running ({exc}); start it with `make up`"
        raise SystemExit(message) from None
    return es


def kafka_ceilings(settings: Settings, size: int, seed: int, monitor: Monitor) -> dict[str, Any]:
    monitor.set_phase("ceiling_prepare")
    valid = ceilings.valid_contacts(Workload(size, seed).contacts(), int(time.time() * 1000))
    payloads = ceilings.kafka_payloads(valid)
    uid = unique_name("ceiling")
    k = settings.kafka
    out: dict[str, Any] = {}
    with scratch_topics(k, [f"{uid}.in", f"{uid}.out"], k.partitions):
        monitor.set_phase("kafka_produce")
        out["kafka_produce"] = ceilings.kafka_produce_ceiling(k, f"{uid}.in", payloads)
        monitor.set_phase("kafka_consume_produce")
        out["kafka_consume_produce"] = ceilings.kafka_consume_produce_ceiling(
            k, f"{uid}.in", f"{uid}.out", len(payloads), uid
        )
    delete_groups(k, [uid])
    return out


def es_ceiling(monitor: Monitor, sweep: bool) -> Callable[[Pipeline], dict[str, Any]]:
    """Re-index what the end-to-end pipeline wrote, straight from Python."""

    def run(pipe: Pipeline) -> dict[str, Any]:
        monitor.set_phase("es_prepare")
        e = pipe.settings.elastic
        docs = ceilings.read_docs(pipe.es, pipe.settings.elastic.contacts)
        uid = unique_name("ceiling")
        out: dict[str, Any] = {}
        chunk, workers = ceilings.ES_CHUNK, ceilings.ES_WORKERS
        if sweep:
            monitor.set_phase("es_sweep")
            subset = docs[: min(len(docs), 50_000)]
            out["es_sweep"] = ceilings.es_sweep(e, f"{uid}-sweep", subset)
            chunk, workers = out["es_sweep"][0]["chunk"], out["es_sweep"][0]["workers"]
        monitor.set_phase("es_bulk")
        out["es_bulk"] = ceilings.es_bulk_ceiling(
            e, f"{uid}-contacts", docs, chunk=chunk, workers=workers
        )
        return out

    return run


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    es = check_stack(settings)
    if args.cleanup:
        removed = remove_leftovers(settings.kafka, settings.elastic, args.cleanup)
        print("\n".join(removed) or "nothing to remove")
        return 0
    # SIGTERM (a CI time-out, kill) unwinds like Ctrl-C: every pipeline is torn down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    worker_env = dict(item.split("=", 1) for item in args.env)
    if args.soak:
        # The workload spans 10,000 contacts a day of event time: with the 30-day default
        # retention the state would still be filling up in the last tenth of a million.
        # A week's retention reaches its steady state in the first tenth, so the growth
        # measured is what does not get dropped. The workload arrives in event-time order
        # (a few minutes late at most), so a minute of idleness is enough to trust the
        # watermark (the hour of the default guards unsorted archives).
        worker_env.setdefault("ASCOLTO_RETENTION_S", str(SOAK_RETENTION_S))
        worker_env.setdefault("ASCOLTO_EXPIRE_IDLE_S", "60")
    results: dict[str, Any] = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": args.size,
        "soak": args.soak,
        "seed": args.seed,
        "worker_env": worker_env,
        "workers": args.workers,
        "indexers": args.indexers,
        "versions": stack_versions(es),
        "machine": machine(),
    }
    tmp = Path(tempfile.mkdtemp(prefix="ascolto-bench-"))
    monitor = Monitor(interval_s=0.25).start()
    t0 = monitor.t0
    opts = Options(
        size=args.size,
        seed=args.seed,
        tmp=tmp,
        t0=t0,
        latency_s=args.latency_seconds,
        paced_rate=args.paced_rate,
        profile=args.profile,
        worker_env=worker_env,
        workers=args.workers,
        indexers=args.indexers,
    )
    try:
        say(f"Kafka ceilings: the clients alone, {args.size:,} contacts")
        results["ceilings"] = kafka_ceilings(settings, args.size, args.seed, monitor)
        say("ingest, then the stream stage from a full contacts.raw")
        results["stage"] = ingest_and_stage(opts, monitor)
        gc.collect()
        say("end to end: as fast as ingest takes it, then paced at half that rate; then the")
        say("Elasticsearch ceiling with the documents the pipeline wrote")
        e2e = end_to_end(opts, monitor, after=es_ceiling(monitor, args.es_sweep))
        for name in ("es_bulk", "es_sweep"):
            if name in e2e:
                results["ceilings"][name] = e2e.pop(name)
        results["e2e"] = e2e
        monitor.set_phase("report")
    finally:
        monitor.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    results["duration_s"] = round(time.monotonic() - t0, 1)
    results["phases"] = monitor.phases
    results["names"] = USED_NAMES
    headline = report.headline(results, monitor, t0)
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(args.out / "latest.json", headline)
    report.chart(args.out / "latest.png", results, monitor, t0)
    print()
    print(report.table(headline))
    kept = keep_copy(args.out, args.runs, results["timestamp"])
    print(f"\n  results: {args.out / 'latest.json'}  chart: {args.out / 'latest.png'}")
    print(f"  this run kept as {kept}.*")
    return 0


def keep_copy(out: Path, runs: Path, timestamp: str) -> Path:
    """Copy latest.json and latest.png to ``runs`` under the run's time, so that runs
    compared back to back stay on disk without entering the tree."""
    runs.mkdir(parents=True, exist_ok=True)
    stem = runs / timestamp.replace(":", "")
    for suffix in (".json", ".png"):
        shutil.copyfile(out / f"latest{suffix}", stem.with_suffix(suffix))
    return stem


if __name__ == "__main__":
    sys.exit(main())
