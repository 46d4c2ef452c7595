"""The report's SVG charts: well-formed, customer text drawn as text, the same bytes for the
same figures, one series or bar per figure, and a clear chart when there is nothing to draw."""

from __future__ import annotations

import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from services import report_charts
from services.report_charts import PALETTE, Point, brand_shares, response_times, shares_over_time

NS = "{http://www.w3.org/2000/svg}"
SCRIPT = "<script>alert(1)</script>"
AMP = "A&B \"quoted\" 'single'"
DAY = 86_400_000


def _tree(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on markup that is not well-formed XML
    assert root.tag == f"{NS}svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{NS}text")]


def _with_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == name]


Lines = dict[str, list[Point]]


def _over_time(brands: dict[str, list[float | None]]) -> tuple[Lines, Lines]:
    lines = {b: [(i * DAY, v) for i, v in enumerate(vs)] for b, vs in brands.items()}
    return lines, lines


CHARTS: dict[str, Callable[[str], str]] = {
    "response_times": lambda name: response_times({name: [30.0, 600.0], "email": [5.0]}),
    "brand_shares": lambda name: brand_shares({name: 0.5, "Acme": 1.0}, {name: None, "Acme": 0.0}),
    "shares_over_time": lambda name: shares_over_time(
        *_over_time({name: [0.5, None, 1.0], "Acme": [1.0, 1.0, 0.0]}), "day"
    ),
}


@pytest.mark.parametrize("chart", sorted(CHARTS))
@pytest.mark.parametrize("name", [SCRIPT, AMP])
def test_customer_names_are_drawn_as_text(chart: str, name: str) -> None:
    svg = CHARTS[chart](name)
    root = _tree(svg)
    assert not [e for e in root.iter() if e.tag in (f"{NS}script", "script", f"{NS}foreignObject")]
    shown = _texts(root) + ["".join(t.itertext()) for t in root.iter(f"{NS}title")]
    assert [t for t in shown if name in t]  # on the chart, or whole in a tooltip if long
    assert SCRIPT not in svg and "A&B " not in svg  # only ever escaped in the markup


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_every_chart_is_titled_described_and_scales(chart: str) -> None:
    root = _tree(CHARTS[chart]("Acme"))
    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert root.get("role") == "img"
    _, _, width, height = map(float, str(root.get("viewBox")).split())
    assert width >= 600 and height >= 100


def test_the_same_figures_give_the_same_bytes() -> None:
    times = {"twitter": [400.0, 3.0, 90.0], "email": [7200.0, 60.0]}
    assert response_times(times) == response_times(dict(reversed(times.items())))
    answered, met = {"B": 0.25, "A": 0.5}, {"A": None, "B": 1.0}
    assert brand_shares(answered, met) == brand_shares(dict(sorted(answered.items())), met)
    lines = _over_time({"A": [0.5, None], "B": [1.0, 0.0]})
    assert shares_over_time(*lines, "hour") == shares_over_time(*lines, "hour")


def test_one_line_per_channel_on_a_log_axis_with_duration_ticks() -> None:
    root = _tree(response_times({"chat": [40.0, 100.0, 5000.0], "email": [7000.0], "sms": []}))
    series = _with_class(root, "series")
    assert [s.get("data-series") for s in series] == ["chat", "email"]  # sms: nothing answered
    assert {"1m", "10m", "1h", "6h"} <= set(_texts(root))
    assert "chat (n=3)" in _texts(root)
    # the ECDF climbs to 100 %: its steps end at the top of the plot area
    chat = str(series[0].get("d"))
    assert chat.startswith("M") and chat.count("V") == 3


def test_bars_per_brand_and_measure_with_their_shares() -> None:
    root = _tree(brand_shares({"Acme": 0.8, "Solo": 1.0, "Quiet": None}, {"Acme": 0.5}))
    bars = [(b.get("data-brand"), b.get("data-series"), b.get("data-value"))
            for b in _with_class(root, "bar")]  # fmt: skip
    assert bars == [("Acme", "answered", "0.8"), ("Acme", "SLA met", "0.5"),
                    ("Solo", "answered", "1.0")]  # fmt: skip
    widths = [float(str(b.get("width"))) for b in _with_class(root, "bar")]
    assert widths[2] == pytest.approx(2 * widths[1])  # 100 % is twice 50 %
    assert {"80%", "50%", "100%", "-"} <= set(_texts(root))


def test_lines_over_time_per_brand_and_measure() -> None:
    answered, met = _over_time({"Acme": [0.5, 1.0, None], "Gone": [None, None, None]})
    root = _tree(shares_over_time(answered, met, "day"))
    series = [(g.get("data-series"), g.get("data-measure")) for g in _with_class(root, "series")]
    assert series == [("Acme", "answered"), ("Acme", "SLA met")]
    polyline = root.find(f".//{NS}g[@class='series']/{NS}polyline")
    assert polyline is not None and len(str(polyline.get("points")).split()) == 2
    assert "Gone" in _texts(root)  # in the legend, though it has no point


def test_series_colours_are_okabe_ito_then_dashed() -> None:
    root = _tree(response_times({f"channel {i:02}": [60.0 * (i + 1)] for i in range(10)}))
    series = _with_class(root, "series")
    assert [s.get("stroke") for s in series[:8]] == list(PALETTE)
    assert all(s.get("stroke-dasharray") is None for s in series[:8])
    assert series[8].get("stroke-dasharray") and series[8].get("stroke") == PALETTE[0]


EMPTY = [
    ("no channel", lambda: response_times({})),
    ("nothing answered", lambda: response_times({"email": []})),
    ("no brand", lambda: brand_shares({}, {})),
    ("no bucket", lambda: shares_over_time({}, {}, "day")),
    ("brands without buckets", lambda: shares_over_time({"A": []}, {"A": []}, "week")),
]


@pytest.mark.parametrize(("case", "draw"), EMPTY, ids=[c for c, _ in EMPTY])
def test_nothing_to_draw_says_so(case: str, draw: Callable[[], str]) -> None:
    root = _tree(draw())
    assert [t for t in _texts(root) if t.startswith("no ") and t.endswith(" in this range")]
    assert not _with_class(root, "series") and not _with_class(root, "bar")


DEGENERATE = [
    ("one answer", lambda: response_times({"email": [42.0]})),
    ("all answered at once", lambda: response_times({"email": [0.0, 0.0], "chat": [0.0]})),
    ("beyond the last tick", lambda: response_times({"email": [90 * 86400.0]})),
    ("one brand at 100 %", lambda: brand_shares({"Solo": 1.0}, {"Solo": 1.0})),
    ("all zero", lambda: brand_shares({"A": 0.0, "B": 0.0}, {"A": 0.0, "B": 0.0})),
    ("one bucket", lambda: shares_over_time(*_over_time({"A": [1.0]}), "month")),
    ("all zero over time", lambda: shares_over_time(*_over_time({"A": [0.0, 0.0]}), "hour")),
]


@pytest.mark.parametrize(("case", "draw"), DEGENERATE, ids=[c for c, _ in DEGENERATE])
def test_degenerate_figures_are_drawn(case: str, draw: Callable[[], str]) -> None:
    root = _tree(draw())
    drawn = _with_class(root, "series") + _with_class(root, "bar")
    assert drawn and "nan" not in ET.tostring(root, encoding="unicode").lower()
    for element in root.iter():
        for attr in ("x", "y", "cx", "cy", "width", "height"):
            if element.get(attr) is not None:
                assert float(str(element.get(attr))) >= 0, (case, element.tag, attr)


def test_long_names_are_shortened_on_the_chart_and_whole_in_its_title() -> None:
    name = "A brand with a name far longer than the legend has room for"
    root = _tree(report_charts.brand_shares({name: 0.5}, {name: 0.5}))
    assert name not in _texts(root)
    assert [t for t in _texts(root) if t.endswith("…") and name.startswith(t[:-1])]
    bar = _with_class(root, "bar")[0].find(f"{NS}title")
    assert bar is not None and str(bar.text).startswith(name)


def test_the_page_needs_no_plotting_library() -> None:
    """The service image has no matplotlib, numpy or pillow: rendering must not import them."""
    program = (
        "import sys\n"
        "from tests.unit.test_report_html import _page\n"
        "from services.report_html import render\n"
        "assert render(_page()).count('<svg ') == 3\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    loaded = set(ast.literal_eval(done.stdout))
    assert "services" in loaded
    assert loaded.isdisjoint({"matplotlib", "numpy", "PIL", "fontTools", "kiwisolver"})
