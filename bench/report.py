"""The benchmark's outputs: the headline JSON, a printed table, and a chart.

``headline`` turns the raw results into the flat figures CI and people compare
(``REQUIRED_KEYS``); the raw results stay beside them under ``details``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.monitor import Monitor, growth_ratio

# Every key a results file has, whatever the size (the smoke test checks them).
REQUIRED_KEYS = (
    "es_bulk_ceiling_per_s",
    "kafka_produce_ceiling_per_s",
    "kafka_consume_produce_ceiling_per_s",
    "ingest_per_s",
    "ingest_single_per_s",
    "stage_per_s",
    "e2e_per_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "rss_growth_ratio",
    "rss_growth_second_half_ratio",
    "cpu_s_per_1k",
    "e2e_vs_es_ceiling",
    "stage_vs_kafka_ceiling",
    "size",
    "workload",
    "versions",
    "machine",
    "timestamp",
)

# The goals the pipeline is measured against; reported, never enforced here.
TARGETS = {
    "e2e_vs_es_ceiling": (">=", 0.6),
    "stage_vs_kafka_ceiling": (">=", 0.5),
    "latency_p99_s": ("<=", 2.0),
    "rss_growth_ratio": ("<=", 1.1),
}

E2E_PHASES = ("e2e_max", "e2e_paced")
SERVICES = ("ingest", "worker")


def memory(monitor: Monitor) -> dict[str, Any]:
    """Peak RSS per process and phase, and the growth over the end-to-end phases (the ones a
    soak makes long): mean RSS of the last tenth of the samples over the first tenth."""
    peaks: dict[str, dict[str, float]] = {}
    e2e: dict[str, list[float]] = {}
    for s in monitor.samples:
        for label, rss in s.rss.items():
            mib = rss / 2**20
            per_phase = peaks.setdefault(label, {})
            per_phase[s.phase] = round(max(per_phase.get(s.phase, 0.0), mib), 1)
            if s.phase in E2E_PHASES:
                e2e.setdefault(label, []).append(mib)
    growth = {label: growth_ratio(values) for label, values in e2e.items()}
    # A fresh worker fills its state up to the retention window first: the second half says
    # whether it still grows once that is done.
    late = {label: growth_ratio(values, since=0.5) for label, values in e2e.items()}
    return {
        "peak_rss_mib": peaks,
        "growth_ratio": {k: round(v, 4) if v else None for k, v in growth.items()},
        "second_half_growth_ratio": {k: round(v, 4) if v else None for k, v in late.items()},
        "samples": {label: len(values) for label, values in e2e.items()},
        "rss_growth_ratio": _services_max(growth),
        "rss_growth_second_half_ratio": _services_max(late),
    }


def _services_max(ratios: dict[str, float | None]) -> float | None:
    values = [r for label, r in ratios.items() if label.startswith(SERVICES) and r is not None]
    return max(values) if values else None


def process_series(monitor: Monitor, t0: float, points: int = 600) -> dict[str, Any]:
    """RSS (MiB) and CPU (cores, over each interval) per process, at most ``points`` samples."""
    samples = monitor.samples
    step = max(1, len(samples) // points)
    picked = samples[::step]
    labels = sorted({label for s in samples for label in s.rss})
    out: dict[str, Any] = {"t": [round(s.t - t0, 2) for s in picked]}
    out["rss_mib"], out["cpu_cores"] = {}, {}
    for label in labels:
        out["rss_mib"][label] = [
            round(s.rss[label] / 2**20, 1) if label in s.rss else None for s in picked
        ]
        cores: list[float | None] = [None]
        for a, b in zip(picked, picked[1:], strict=False):
            if label in a.cpu and label in b.cpu and b.t > a.t and b.cpu[label] >= a.cpu[label]:
                cores.append(round((b.cpu[label] - a.cpu[label]) / (b.t - a.t), 3))
            else:
                cores.append(None)
        out["cpu_cores"][label] = cores
    return out


def machine_load(monitor: Monitor) -> dict[str, Any]:
    """CPU cores used meanwhile by the shared stack and by everything else (strangers)."""
    loads = monitor.loads
    if not loads:
        return {}
    other = [x.other_cores for x in loads]
    stack = [x.stack_cores for x in loads]
    by_phase: dict[str, list[float]] = {}
    for x in loads:
        by_phase.setdefault(x.phase, []).append(x.stack_cores)
    mean_other = sum(other) / len(other)
    return {
        "other_cores_mean": round(mean_other, 3),
        "other_cores_max": round(max(other), 3),
        "stack_cores_mean": round(sum(stack) / len(stack), 3),
        # with the Python processes' series: how full the machine was in each phase
        "stack_cores_by_phase": {p: round(sum(v) / len(v), 3) for p, v in by_phase.items()},
        "busy": mean_other > 0.25,  # a quarter of a core of strangers' work, on average
    }


def headline(results: dict[str, Any], monitor: Monitor, t0: float) -> dict[str, Any]:
    ceil, stage, e2e = results["ceilings"], results["stage"], results["e2e"]
    mem = memory(monitor)
    es_ceiling = ceil["es_bulk"]["per_s"]
    cp_ceiling = ceil["kafka_consume_produce"]["per_s"]
    paced = e2e["paced"]
    out: dict[str, Any] = {
        "timestamp": results["timestamp"],
        "size": results["size"],
        "soak": results["soak"],
        "seed": results["seed"],
        "worker_env": results.get("worker_env", {}),
        "workers": results.get("workers", 1),
        "es_bulk_ceiling_per_s": es_ceiling,
        "kafka_produce_ceiling_per_s": ceil["kafka_produce"]["per_s"],
        "kafka_consume_produce_ceiling_per_s": cp_ceiling,
        "ingest_per_s": stage["ingest_batch"]["per_s"],
        "ingest_single_per_s": stage["ingest_single"]["per_s"],
        "stage_per_s": stage["stage"]["per_s"],
        "e2e_per_s": e2e["max_rate"]["per_s"],
        "latency_p50_s": paced["p50_s"],
        "latency_p95_s": paced["p95_s"],
        "latency_p99_s": paced["p99_s"],
        "latency_at_per_s": paced["target_per_s"],
        "rss_growth_ratio": mem["rss_growth_ratio"],
        "rss_growth_second_half_ratio": mem["rss_growth_second_half_ratio"],
        "cpu_s_per_1k": stage["stage"]["cpu_s_per_1k"],
        "e2e_vs_es_ceiling": e2e["max_rate"]["per_s"] / es_ceiling,
        "stage_vs_kafka_ceiling": stage["stage"]["per_s"] / cp_ceiling,
        "workload": stage["workload"],
        "versions": results["versions"],
        "machine": results["machine"] | {"load_during_run": machine_load(monitor)},
        "duration_s": results["duration_s"],
    }
    out["targets"] = {
        name: {"target": f"{op} {goal}", "met": _met(out[name], op, goal)}
        for name, (op, goal) in TARGETS.items()
    }
    out["details"] = {
        "ceilings": ceil,
        "ingest_single": stage["ingest_single"],
        "ingest_batch": stage["ingest_batch"],
        "stage": {k: v for k, v in stage["stage"].items() if k != "timeline"},
        "e2e_max_rate": {
            k: v for k, v in e2e["max_rate"].items() if k not in ("posted", "searchable")
        },
        "e2e_paced": {k: v for k, v in paced.items() if k not in ("series", "posted")},
        "es_docs_written_per_contact": _docs_per_contact(e2e),
        "worker_latency_histogram_mean_s": e2e["worker_latency_histogram_mean_s"],
        "worker_gc_e2e": e2e.get("worker_gc"),
        "memory": {k: v for k, v in mem.items() if not k.startswith("rss_growth")},
        "phases": results["phases"],
        "names": results["names"],  # topic, index and group prefixes used (all deleted)
        "process_series": process_series(monitor, t0),
    }
    return out


def _docs_per_contact(e2e: dict[str, Any]) -> dict[str, float]:
    """Elasticsearch writes the worker made per contact posted, by index: the end-to-end rate
    costs this many bulk items per contact, where the ceiling writes one."""
    posted = e2e["max_rate"]["accepted"] + e2e["paced"]["contacts"]
    return {k: round(v / posted, 3) for k, v in e2e["es_docs_indexed"].items()}


def _met(value: float | None, op: str, goal: float) -> bool | None:
    if value is None:
        return None
    return value >= goal if op == ">=" else value <= goal


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def table(h: dict[str, Any]) -> str:
    """The figures a person reads first, as aligned text."""

    def num(v: Any, unit: str = "", digits: int = 0) -> str:
        if v is None:
            return "n/a"
        return f"{v:,.{digits}f}{unit}"

    load = h["machine"].get("load_during_run", {})
    targets = {k: ("met" if t["met"] else "MISSED") for k, t in h["targets"].items()}
    rows = [
        ("Elasticsearch bulk ceiling", num(h["es_bulk_ceiling_per_s"], " docs/s")),
        ("Kafka produce ceiling (kafka-python)", num(h["kafka_produce_ceiling_per_s"], " msg/s")),
        (
            "Kafka consume->produce ceiling (aiokafka)",
            num(h["kafka_consume_produce_ceiling_per_s"], " msg/s"),
        ),
        ("Ingest, batches of 500", num(h["ingest_per_s"], " contacts/s")),
        ("Ingest, single contacts", num(h["ingest_single_per_s"], " contacts/s")),
        ("Stream stage (raw -> enriched)", num(h["stage_per_s"], " contacts/s")),
        ("Worker CPU per 1,000 contacts", num(h["cpu_s_per_1k"], " s", 2)),
        ("End to end, HTTP -> searchable", num(h["e2e_per_s"], " contacts/s")),
        (f"Latency at {num(h['latency_at_per_s'])}/s: p50", num(h["latency_p50_s"], " s", 3)),
        ("                             p95", num(h["latency_p95_s"], " s", 3)),
        (
            "                             p99",
            f"{num(h['latency_p99_s'], ' s', 3)}   (<= 2 s: {targets['latency_p99_s']})",
        ),
        (
            "RSS growth, first -> last tenth",
            f"{num(h['rss_growth_ratio'], '', 3)}   (<= 1.1: {targets['rss_growth_ratio']})",
        ),
        ("RSS growth, middle -> last tenth", num(h["rss_growth_second_half_ratio"], "", 3)),
        ("GC pauses, end-to-end worker", _gc_summary(h.get("details", {}).get("worker_gc_e2e"))),
        (
            "e2e / ES ceiling",
            f"{num(h['e2e_vs_es_ceiling'], '', 3)}   (>= 0.6: {targets['e2e_vs_es_ceiling']})",
        ),
        (
            "stage / Kafka consume->produce ceiling",
            f"{num(h['stage_vs_kafka_ceiling'], '', 3)}   "
            f"(>= 0.5: {targets['stage_vs_kafka_ceiling']})",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    w = h["workload"]
    lines = [
        f"Ascolto benchmark  {h['timestamp']}  size {h['size']:,}"
        + ("  (soak)" if h["soak"] else ""),
        f"  workload: {w['valid']:,} valid ({w['unique']:,} distinct, {w['duplicates']:,} exact "
        f"duplicates), {w['malformed']:,} malformed; channels {w['channels']}",
        f"  machine: {h['machine']['nproc']} cores, {h['machine']['memory_gib']} GiB; "
        f"others used {load.get('other_cores_mean', 'n/a')} cores on average "
        f"({'busy' if load.get('busy') else 'quiet'})",
        f"  worker processes: {h.get('workers', 1)}"
        + (f"; settings: {h['worker_env']}" if h.get("worker_env") else ""),
        "",
        *(f"  {name:<{width}}  {value}" for name, value in rows),
    ]
    return "\n".join(lines)


def _gc_summary(gc: dict[str, dict[str, float]] | None) -> str:
    if not gc:
        return "n/a"
    seconds = sum(g["seconds"] for g in gc.values())
    full = gc["2"]
    return (
        f"{seconds:,.1f} s in all; {full['passes']:,.0f} full passes, "
        f"{full['seconds']:,.1f} s, {full['over_50ms']:,.0f} over 50 ms"
    )


def _rates(points: list[tuple[float, int]], bin_s: float) -> tuple[list[float], list[float]]:
    """Per-second rates from a cumulative series, in bins of ``bin_s``."""
    if len(points) < 2:
        return [], []
    xs, ys = [], []
    t_prev, n_prev = points[0]
    for t, n in points[1:]:
        if t - t_prev >= bin_s or (t, n) == points[-1]:
            if t > t_prev:
                xs.append((t + t_prev) / 2)
                ys.append((n - n_prev) / (t - t_prev))
            t_prev, n_prev = t, n
    return xs, ys


def chart(path: Path, results: dict[str, Any], monitor: Monitor, t0: float) -> None:
    """Throughput, latency and memory over the run's clock, phases shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stage, e2e = results["stage"], results["e2e"]
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(4, 1, figsize=(12, 13), sharex=True)
    span = max((s.t - t0 for s in monitor.samples), default=60)
    bin_s = max(1.0, span / 300)

    timeline = [(t, n) for t, n, _ in stage["stage"]["timeline"]]
    for label, points in (
        ("stream stage: contacts.enriched records/s", timeline),
        ("e2e: posted to ingest/s", e2e["max_rate"]["posted"]),
        ("e2e: searchable docs/s", e2e["max_rate"]["searchable"]),
        ("paced: posted/s", e2e["paced"]["posted"]),
    ):
        xs, ys = _rates(points, bin_s)
        ax1.plot(xs, ys, label=label, linewidth=1)
    ax1.set_ylabel("per second")
    ax1.set_title(f"Ascolto benchmark, {results['size']:,} contacts, {results['timestamp']}")
    ax1.legend(loc="upper right", fontsize=8)

    series = e2e["paced"]["series"]
    if series:
        ax2.scatter([x for x, _ in series], [y for _, y in series], s=3, label="sampled contact")
        paced = e2e["paced"]
        for q, style in (("p50_s", ":"), ("p95_s", "--"), ("p99_s", "-")):
            ax2.axhline(paced[q], linestyle=style, linewidth=1, color="k",
                        label=f"{q[:-2]} {paced[q]:.2f} s")  # fmt: skip
        ax2.legend(loc="upper right", fontsize=8)
    ax2.set_ylabel("received -> searchable (s)")

    proc = process_series(monitor, t0)
    for label, values in proc["rss_mib"].items():
        ax3.plot(proc["t"], values, label=label, linewidth=1)
        ax4.plot(proc["t"], proc["cpu_cores"][label], label=label, linewidth=1)
    ax3.set_ylabel("RSS (MiB)")
    ax3.legend(loc="upper left", fontsize=8)
    ax4.set_ylabel("CPU (cores)")
    ax4.set_xlabel("seconds since the run started")
    ax4.legend(loc="upper left", fontsize=8)

    shade = 0
    for phase in results["phases"]:
        if phase["name"].startswith(("ingest", "stage", "e2e")):
            for ax in (ax1, ax2, ax3, ax4):
                ax.axvspan(phase["start"], phase["end"], alpha=0.06 if shade % 2 else 0.12)
            ax4.text(phase["start"], 0, phase["name"], fontsize=7, rotation=90, va="bottom")
            shade += 1
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
