"""``ascolto sla what-if --chart``: share met, current vs proposed policy, per brand, channel
and target, as a PNG. matplotlib is a development dependency (not in the service image)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def chart_problem(path: Path) -> str | None:
    """Why --chart cannot write ``path`` (asked before anything runs), or None."""
    if path.suffix.lower() != ".png":
        return f"--chart writes a PNG: {path} should end in .png"
    if not path.parent.is_dir():
        return f"--chart: no folder {path.parent}"
    if importlib.util.find_spec("matplotlib") is None:
        return "--chart needs matplotlib, a development dependency (pip install matplotlib)"
    return None


def draw(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    labels = [f"{r['brand']} · {r['channel']} · {r['target']}" for r in rows]
    height = 0.38
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * max(len(rows), 1)))
    ys = list(range(len(rows)))
    sides = ((-height / 2, "current", "#7f8c8d"), (height / 2, "proposed", "#2e86de"))
    for offset, side, colour in sides:
        shares = [r[side]["met_share"] for r in rows]
        at = [y + offset for y in ys]
        ax.barh(at, [100 * (v or 0) for v in shares], height, label=f"{side} policy", color=colour)
        # the value at each bar's end: a 0 % (every clock breached) from "none decided"
        for y, v in zip(at, shares, strict=True):
            text = "none decided" if v is None else f"{100 * v:.0f}%"
            ax.text(1 + 100 * (v or 0), y, text, va="center", fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, 112)
    ax.set_xlabel("SLA met, % of decided clocks (met + breached)")
    ax.set_title("What-if: share of SLA clocks met, current vs proposed policy", pad=24)
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=2, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
