"""The HTML report's charts: plain figures in, PNG bytes out (matplotlib's Agg canvas, no
pyplot state, no I/O). Customer-provided names become pixels here, never markup."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

# Brand and channel names are the customer's text: "$" must not start matplotlib's mathtext.
STYLE: dict[Any, Any] = {  # keys: matplotlib's typed rcParams names
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
DURATION_TICKS = {1: "1s", 60: "1m", 300: "5m", 900: "15m", 3600: "1h", 4 * 3600: "4h",
                  86400: "1d", 7 * 86400: "7d"}  # fmt: skip
WIDTH_IN = 6.4
DPI = 100


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return out.getvalue()


def _empty(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in this range", ha="center", va="center",
            transform=ax.transAxes, color="#666")  # fmt: skip
    ax.set_axis_off()


def response_times(by_channel: Mapping[str, Sequence[float]]) -> bytes:
    """Empirical distribution (ECDF) of response times per channel, on a log time axis."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 3.4))
        ax = fig.add_subplot()
        series = {name: sorted(max(t, 1.0) for t in times) for name, times in by_channel.items()}
        series = {name: times for name, times in series.items() if times}
        if not series:
            _empty(ax, "answered message")
            return _png(fig)
        for name, times in sorted(series.items()):
            shares = [(i + 1) / len(times) for i in range(len(times))]
            ax.step(times, shares, where="post", label=f"{name} (n={len(times)})")
        ax.set_xscale("log")
        top = max(t[-1] for t in series.values())
        ticks = [t for t in DURATION_TICKS if t <= top * 2]
        ax.set_xticks(ticks, [DURATION_TICKS[t] for t in ticks])
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("first response within")
        ax.set_ylabel("share of answered messages")
        ax.legend(loc="lower right", fontsize=8)
        return _png(fig)


def brand_shares(answered: Mapping[str, float | None], met: Mapping[str, float | None]) -> bytes:
    """Side-by-side bars per brand: share answered, share of judged SLA clocks met."""
    names = sorted(answered)
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(WIDTH_IN, 0.9 + 0.38 * max(len(names), 1)))
        ax = fig.add_subplot()
        if not names:
            _empty(ax, "customer message")
            return _png(fig)
        height = 0.38
        rows = range(len(names))
        for offset, label, values in (
            (-height / 2, "answered", answered),
            (height / 2, "SLA met", met),
        ):
            shares = [values.get(n) or 0.0 for n in names]
            bars = ax.barh([r + offset for r in rows], shares, height=height, label=label)
            texts = [_percent(values.get(n)) for n in names]
            ax.bar_label(bars, texts, padding=2, fontsize=7)
        ax.set_yticks(list(rows), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.12)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.legend(loc="lower right", fontsize=8)
        return _png(fig)


Point = tuple[int, float | None]


def shares_over_time(
    answered: Mapping[str, Sequence[Point]], met: Mapping[str, Sequence[Point]], bucket: str
) -> bytes:
    """Two panels, one line per brand: share answered and share of SLAs met per bucket."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(2 * WIDTH_IN, 4.6))
        top, bottom = fig.subplots(2, 1, sharex=True)
        if not answered:
            _empty(top, "customer message")
            bottom.set_axis_off()
            return _png(fig)
        for ax, title, lines in ((top, "answered", answered), (bottom, "SLA met", met)):
            for name in sorted(lines):
                points = [(_day(t), v) for t, v in lines[name] if v is not None]
                if points:
                    ax.plot(*zip(*points, strict=True), marker="o", markersize=3, label=name)
            ax.set_ylim(-0.02, 1.05)
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_ylabel(f"{title}, per {bucket}")
        top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        fig.autofmt_xdate()
        return _png(fig)


def _day(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"
