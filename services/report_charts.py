"""The HTML report's charts as inline SVG: plain figures in, markup out, standard library only
(the service image has no plotting library). Every text is XML-escaped here, so a brand named
`<script>` is drawn as those characters; the same figures give the same bytes.

Each chart is an `<svg role="img">` with a `<title>`, a `<desc>` that says the figures in words,
axis labels and a legend; series carry `class="series"` and `data-series`, bars `class="bar"`
`data-brand` and `data-value`, so that a test (or a program) can count and read them.
"""

from __future__ import annotations

import bisect
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Okabe & Ito's colour-blind-safe palette, in an order that reads on white (yellow last);
# past eight series the dash pattern tells them apart.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000",
           "#F0E442")  # fmt: skip
DASHES = ("", "6 3", "2 3", "9 3 2 3")
DURATION_TICKS = {1: "1s", 10: "10s", 60: "1m", 600: "10m", 3600: "1h", 6 * 3600: "6h",
                  86400: "1d", 7 * 86400: "7d", 30 * 86400: "30d"}  # fmt: skip
SHARE_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
FONT = 'font-family="system-ui,-apple-system,Segoe UI,sans-serif" font-size="13"'
GRID = "#e4e6eb"
INK = "#1d2330"
MUTED = "#555"
LEGEND_ROW = 18
LABEL_CHARS = 24

Point = tuple[int, float | None]


def _x(text: object) -> str:
    """Text and attribute values as XML: <, >, &, both quotes."""
    return html.escape(str(text), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _short(name: str, chars: int = LABEL_CHARS) -> str:
    return name if len(name) <= chars else name[: chars - 1] + "…"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.0f}%"


def _dashes(dash: str) -> str:
    return f' stroke-dasharray="{dash}"' if dash else ""


def style(index: int) -> tuple[str, str]:
    """Colour and dash pattern of the index-th series."""
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]


@dataclass(frozen=True)
class Frame:
    """The plot area inside the chart: left, top, width and height in viewBox units."""

    left: float
    top: float
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def y_share(self, share: float) -> float:
        return self.bottom - share * self.height


@dataclass
class Svg:
    """One chart's markup, built element by element."""

    key: str
    width: int
    height: int
    title: str
    desc: str
    parts: list[str] = field(default_factory=list)

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def text(self, x: float, y: float, content: str, **attrs: str) -> None:
        extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{_x(v)}"' for k, v in attrs.items())
        self.add(f'<text x="{_n(x)}" y="{_n(y)}"{extra}>{_x(content)}</text>')

    def line(self, x1: float, y1: float, x2: float, y2: float, colour: str = GRID) -> None:
        self.add(f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
                 f'stroke="{colour}"/>')  # fmt: skip

    def x_tick(self, frame: Frame, x: float, label: str) -> None:
        """A vertical grid line through the plot area, labelled below it."""
        self.line(x, frame.top, x, frame.bottom)
        self.text(x, frame.bottom + 16, label, text_anchor="middle", fill=MUTED)

    def share_axis(self, frame: Frame, label: str) -> None:
        """Horizontal grid lines at 0, 25, ... 100 % and the vertical axis' label."""
        for share in SHARE_TICKS:
            y = frame.y_share(share)
            self.line(frame.left, y, frame.left + frame.width, y)
            self.text(frame.left - 6, y + 4, _percent(share), text_anchor="end", fill=MUTED)
        middle = frame.top + frame.height / 2
        self.text(14, middle, label, text_anchor="middle", fill=MUTED,
                  transform=f"rotate(-90 14 {_n(middle)})")  # fmt: skip

    def legend(self, x: float, y: float, entries: Sequence[tuple[str, str, str]]) -> None:
        """One row per entry: a line in the series' colour and dash, then its (full) name."""
        for i, (name, colour, dash) in enumerate(entries):
            row = y + i * LEGEND_ROW
            self.add(f'<g class="legend"><title>{_x(name)}</title><line x1="{_n(x)}" '
                     f'y1="{_n(row)}" x2="{_n(x + 22)}" y2="{_n(row)}" stroke="{colour}" '
                     f'stroke-width="3"{_dashes(dash)}/>')  # fmt: skip
            self.text(x + 28, row + 4, _short(name), fill=INK)
            self.add("</g>")

    def markup(self) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-{self.key}" role="img" '
            f'viewBox="0 0 {self.width} {self.height}" width="{self.width}" '
            f'height="{self.height}" aria-labelledby="{self.key}-title {self.key}-desc" {FONT}>'
            f'<title id="{self.key}-title">{_x(self.title)}</title>'
            f'<desc id="{self.key}-desc">{_x(self.desc)}</desc>{"".join(self.parts)}</svg>'
        )


def no_data(key: str, title: str, width: int, what: str) -> str:
    """The chart when there is nothing to draw: its title and one sentence."""
    message = f"no {what} in this range"
    svg = Svg(key, width, 120, title, message)
    svg.add(f'<rect class="frame" x="1" y="1" width="{width - 2}" height="118" fill="none" '
            f'stroke="{GRID}"/>')  # fmt: skip
    svg.text(width / 2, 64, message, text_anchor="middle", fill=MUTED, class_="no-data")
    return svg.markup()


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


class LogTime:
    """A log-scaled time axis between the duration ticks around the data."""

    def __init__(self, shortest: float, longest: float, frame: Frame) -> None:
        ticks = sorted(DURATION_TICKS)
        self.low = float(ticks[max(bisect.bisect_right(ticks, shortest) - 1, 0)])
        self.high = float(next((t for t in ticks if t >= longest and t > self.low), longest))
        self.frame = frame
        self.ticks = [t for t in ticks if self.low <= t <= self.high]

    def x(self, seconds: float) -> float:
        span = math.log10(self.high) - math.log10(self.low)
        share = (math.log10(max(seconds, self.low)) - math.log10(self.low)) / span
        return self.frame.left + min(share, 1.0) * self.frame.width


def _ecdf_path(times: Sequence[float], axis: LogTime, frame: Frame) -> str:
    """The empirical distribution as steps, one per pixel column at most (the last y wins)."""
    steps: dict[str, float] = {}
    for i, seconds in enumerate(times):
        steps[_n(axis.x(seconds))] = frame.y_share((i + 1) / len(times))
    path = [f"M{_n(axis.x(times[0]))} {_n(frame.bottom)}"]
    for x, y in steps.items():
        path.append(f"H{x}V{_n(y)}")
    path.append(f"H{_n(frame.left + frame.width)}")
    return "".join(path)


def _median(times: Sequence[float]) -> float:
    middle = len(times) // 2
    return times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2


def response_times(by_channel: Mapping[str, Sequence[float]]) -> str:
    """Empirical distribution (ECDF) of response times per channel, on a log time axis."""
    title = "First response time per channel"
    series = {name: sorted(max(t, 1.0) for t in times) for name, times in by_channel.items()}
    series = {name: times for name, times in sorted(series.items()) if times}
    if not series:
        return no_data("response-times", title, 640, "answered message")
    desc = "; ".join(
        f"{name}: {len(times)} answered, half within {_duration(_median(times))}"
        for name, times in series.items()
    )
    height = max(340, 70 + LEGEND_ROW * len(series))
    frame = Frame(left=60, top=14, width=400, height=height - 64)
    svg = Svg("response-times", 640, height, title, f"Share answered within a time. {desc}")
    axis = LogTime(min(t[0] for t in series.values()), max(t[-1] for t in series.values()), frame)
    svg.share_axis(frame, "share of answered messages")
    for tick in axis.ticks:
        svg.x_tick(frame, axis.x(tick), DURATION_TICKS[tick])
    svg.text(frame.left + frame.width / 2, height - 10, "first response within (log scale)",
             text_anchor="middle", fill=MUTED)  # fmt: skip
    entries = []
    for i, (name, times) in enumerate(series.items()):
        colour, dash = style(i)
        path = _ecdf_path(times, axis, frame)
        svg.add(f'<path class="series" data-series="{_x(name)}" d="{path}" fill="none" '
                f'stroke="{colour}" stroke-width="2"{_dashes(dash)}/>')  # fmt: skip
        entries.append((f"{name} (n={len(times)})", colour, dash))
    svg.legend(frame.left + frame.width + 20, frame.top + 8, entries)
    return svg.markup()


def brand_shares(answered: Mapping[str, float | None], met: Mapping[str, float | None]) -> str:
    """Side-by-side bars per brand: share answered, share of judged SLA clocks met."""
    title = "Answered and SLAs met, by brand"
    names = sorted(answered)
    if not names:
        return no_data("brand-shares", title, 640, "customer message")
    measures = (("answered", answered, PALETTE[0]), ("SLA met", met, PALETTE[1]))
    desc = "; ".join(
        f"{name}: {', '.join(f'{label} {_percent(v.get(name))}' for label, v, _ in measures)}"
        for name in names
    )
    row, bar = 36.0, 14.0
    frame = Frame(left=190, top=34, width=380, height=row * len(names))
    svg = Svg("brand-shares", 640, int(frame.bottom + 44), title, desc)
    for tick in SHARE_TICKS:
        svg.x_tick(frame, frame.left + tick * frame.width, _percent(tick))
    svg.text(frame.left + frame.width / 2, frame.bottom + 36, "share of the brand's messages",
             text_anchor="middle", fill=MUTED)  # fmt: skip
    for i, (label, _, colour) in enumerate(measures):
        svg.add(f'<rect x="{frame.left + 130 * i:.0f}" y="6" width="12" height="12" '
                f'fill="{colour}"/>')  # fmt: skip
        svg.text(frame.left + 130 * i + 18, 17, label, fill=INK)
    for r, name in enumerate(names):
        top = frame.top + r * row + (row - 2 * bar) / 2
        svg.text(frame.left - 8, top + bar + 4, _short(name), text_anchor="end", fill=INK)
        for m, (label, values, colour) in enumerate(measures):
            y = top + m * bar
            share = values.get(name)
            if share is not None:
                width = max(share, 0.0) * frame.width
                svg.add(f'<rect class="bar" data-series="{_x(label)}" data-brand="{_x(name)}" '
                        f'data-value="{share}" x="{_n(frame.left)}" y="{_n(y)}" width="{_n(width)}"'
                        f' height="{_n(bar - 2)}" fill="{colour}"><title>{_x(name)}: {label} '
                        f"{_percent(share)}</title></rect>")  # fmt: skip
            svg.text(frame.left + (share or 0.0) * frame.width + 4, y + bar - 3, _percent(share),
                     fill=MUTED, font_size="11")  # fmt: skip
    return svg.markup()


def _bucket_label(ms: int, bucket: str) -> str:
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return at.strftime({"hour": "%d %b %H:%M", "month": "%b %Y"}.get(bucket, "%d %b"))


class TimeAxis:
    """A linear time axis over the buckets' starts, with at most about ten labels."""

    def __init__(self, starts: Sequence[int], frame: Frame) -> None:
        self.first, self.last = min(starts), max(starts)
        self.frame = frame
        stride = max(1, math.ceil(len(starts) / 10))
        self.ticks = list(starts)[::stride]

    def x(self, ms: int) -> float:
        if self.last == self.first:
            return self.frame.left + self.frame.width / 2
        return self.frame.left + (ms - self.first) / (self.last - self.first) * self.frame.width


def _polyline(points: Sequence[tuple[int, float]], axis: TimeAxis, frame: Frame) -> str:
    return " ".join(f"{_n(axis.x(t))},{_n(frame.y_share(v))}" for t, v in points)


def shares_over_time(
    answered: Mapping[str, Sequence[Point]], met: Mapping[str, Sequence[Point]], bucket: str
) -> str:
    """Two panels, one line per brand: share answered and share of SLAs met per bucket."""
    title = f"Answered and SLAs met, per {bucket}"
    panels = (("answered", answered), ("SLA met", met))
    starts = sorted({t for _, lines in panels for points in lines.values() for t, _ in points})
    names = sorted(set(answered) | set(met))
    if not starts or not names:
        return no_data("shares-over-time", title, 1200, "customer message")
    panel_height = 170.0
    height = int(max(2 * panel_height + 122, 40 + LEGEND_ROW * len(names)))
    desc = (
        f"{len(names)} brands over {len(starts)} {bucket}s from {_bucket_label(starts[0], bucket)}"
    )
    svg = Svg(
        "shares-over-time", 1200, height, title, f"{desc} to {_bucket_label(starts[-1], bucket)}"
    )
    colours = {name: style(i) for i, name in enumerate(names)}
    for p, (measure, lines) in enumerate(panels):
        frame = Frame(left=60, top=14 + p * (panel_height + 52), width=880, height=panel_height)
        axis = TimeAxis(starts, frame)
        svg.share_axis(frame, f"{measure}, per {bucket}")
        for tick in axis.ticks:
            svg.x_tick(frame, axis.x(tick), _bucket_label(tick, bucket))
        for name in sorted(lines):
            points = [(t, v) for t, v in lines[name] if v is not None]
            if not points:
                continue
            colour, dash = colours[name]
            dots = "".join(
                f'<circle cx="{_n(axis.x(t))}" cy="{_n(frame.y_share(v))}" r="2.5"/>'
                for t, v in points
            )
            svg.add(f'<g class="series" data-series="{_x(name)}" data-measure="{measure}" '
                    f'fill="{colour}"><title>{_x(name)}: {measure}</title><polyline points="'
                    f'{_polyline(points, axis, frame)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{_dashes(dash)}/>{dots}</g>')  # fmt: skip
    svg.text(500, height - 10, f"start of the {bucket} (UTC) of the customer message",
             text_anchor="middle", fill=MUTED)  # fmt: skip
    svg.legend(970, 22, [(name, *colours[name]) for name in names])
    return svg.markup()
