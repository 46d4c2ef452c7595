"""The HTML report's pure parts: escaping of customer text, the inline charts, the table's
machine-readable cells against the JSON report's figures, the buckets over time, and dates on
the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from services.cli import main
from services.report import parse_date, summarise
from services.report_html import (
    answered_share,
    bucket_for,
    bucket_start,
    page_figures,
    render,
    without_credentials,
)

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = int(datetime(2017, 10, 2, tzinfo=UTC).timestamp() * 1000)  # a Monday
SCRIPT = "<script>console.error('owned')</script>"
EVIL_BRAND = 'Evil"><img src=x onerror=alert(1)>'


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def _doc(brand: str, day: int, answered_after: float | None, outcome: str, **extra) -> dict:
    doc = {"brand": brand, "channel": "twitter", "occurred_at": T0 + day * DAY + 3600_000,
           "sla": {"outcome": outcome}, **extra}  # fmt: skip
    if answered_after is not None:
        doc["answered_by"] = "agent-1"
        doc["response_time_seconds"] = answered_after
    return doc


DOCS = [
    _doc("Acme", 0, 120.0, "met"),
    _doc("Acme", 0, None, "breached"),
    _doc("Acme", 1, 4000.0, "breached"),
    _doc("Acme", 1, None, "open", duplicate_of="x"),
    _doc(EVIL_BRAND, 0, 30.0, "met", channel="email"),
    _doc(EVIL_BRAND, 2, None, "open"),
]
WORST = [{
    "conversation_id": "conv-1", "brand": EVIL_BRAND, "channel": "email", "priority": "p2",
    "sla": {"deadline": T0 + 2 * DAY, "target": "first_response"}, "body": f"help {SCRIPT}",
    "link": 'http://kibana.local/app?q=conversation_id:"conv-1"&x=<b>',
}]  # fmt: skip


def _page(by: str = "brand", since: int | None = T0, until: int | None = T0 + 3 * DAY):
    return page_figures(
        DOCS, by, since_ms=since, until_ms=until, worst=WORST, reference_ms=T0 + 3 * DAY,
        generated_ms=T0 + 10 * DAY,
    )  # fmt: skip


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> Elements:
    found = Elements()
    found.feed(page)
    return found


def test_customer_text_is_escaped_and_no_script_can_run() -> None:
    page = render(_page())
    found = _parse(page)
    assert [tag for tag, _ in found.tags if tag in ("script", "iframe", "object")] == []
    assert not [attrs for tag, attrs in found.tags if tag == "img" and "onerror" in attrs]
    assert SCRIPT in "".join(found.text)  # shown as text, verbatim
    assert "&lt;script&gt;console.error(&#x27;owned&#x27;)&lt;/script&gt;" in page
    links = [attrs["href"] for tag, attrs in found.tags if tag == "a"]
    assert links == [WORST[0]["link"]]
    groups = [attrs["data-group"] for tag, attrs in found.tags if "data-group" in attrs]
    assert groups == sorted(["Acme", EVIL_BRAND])
    csp = [a["content"] for t, a in found.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'"]  # no image, font or data:


def test_the_charts_are_inline_svg_and_nothing_is_loaded_from_elsewhere() -> None:
    found = _parse(render(_page()))
    charts = [attrs.get("class") for tag, attrs in found.tags if tag == "svg"]
    assert charts == ["chart-response-times", "chart-brand-shares", "chart-shares-over-time"]
    assert [tag for tag, _ in found.tags if tag in ("img", "link", "image", "use")] == []
    assert not [a for t, a in found.tags if t != "a" and ("href" in a or "src" in a)]
    bars = [str(a["data-brand"]) for t, a in found.tags if t == "rect" and a.get("class") == "bar"]
    assert sorted(bars) == sorted(["Acme", "Acme", EVIL_BRAND, EVIL_BRAND])
    assert EVIL_BRAND in "".join(found.text)  # drawn as text in the charts and the table


@pytest.mark.parametrize("by", ["brand", "channel", "policy"])
def test_table_cells_carry_the_json_reports_figures(by: str) -> None:
    found = _parse(render(_page(by)))
    table: dict[str, dict[str, object]] = {}
    group = None
    for tag, attrs in found.tags:
        if tag == "tr" and "data-group" in attrs:
            group = str(attrs["data-group"])
            table[group] = {}
        elif tag == "td" and "data-field" in attrs and group is not None:
            table[group][str(attrs["data-field"])] = json.loads(str(attrs["data-value"]))
    assert table == json.loads(json.dumps(summarise(DOCS, by)))


def test_shares_over_time_per_day_bucket() -> None:
    fig = _page()
    assert fig.bucket == "day"
    starts = [T0, T0 + DAY, T0 + 2 * DAY]
    assert fig.answered_over_time["Acme"] == list(zip(starts, [0.5, 1.0, None], strict=True))
    assert fig.met_over_time["Acme"] == list(zip(starts, [0.5, 0.0, None], strict=True))
    assert fig.met_over_time[EVIL_BRAND] == list(zip(starts, [1.0, None, None], strict=True))
    assert fig.response_times == {"twitter": [120.0, 4000.0], "email": [30.0]}
    assert answered_share(fig.brands["Acme"]) == pytest.approx(2 / 3, abs=1e-4)


def test_without_a_range_the_buckets_span_the_messages() -> None:
    fig = _page(since=None, until=None)
    assert [t for t, _ in fig.answered_over_time["Acme"]] == [T0, T0 + DAY, T0 + 2 * DAY]


def test_a_short_range_is_charted_per_hour() -> None:
    docs = [
        _doc("Acme", 0, 60.0, "met"),
        _doc("Acme", 0, None, "breached", occurred_at=T0 + 3 * HOUR),
    ]
    fig = page_figures(
        docs, "brand", since_ms=T0, until_ms=T0 + 4 * HOUR, worst=[], reference_ms=T0,
        generated_ms=T0,
    )  # fmt: skip
    assert fig.bucket == "hour"
    assert fig.met_over_time["Acme"] == [(T0, None), (T0 + HOUR, 1.0), (T0 + 2 * HOUR, None),
                                         (T0 + 3 * HOUR, 0.0)]  # fmt: skip


@pytest.mark.parametrize(
    ("span_days", "bucket"),
    [(2, "hour"), (3, "day"), (62, "day"), (63, "week"), (731, "week"), (800, "month")],
)
def test_bucket_size_follows_the_range(span_days: int, bucket: str) -> None:
    assert bucket_for(span_days * DAY) == bucket


def test_bucket_starts_at_utc_midnight_monday_and_first_of_month() -> None:
    thursday_evening = _ms(2017, 10, 5, 22, 30)
    assert bucket_start(thursday_evening, "hour") == _ms(2017, 10, 5, 22)
    assert bucket_start(thursday_evening, "day") == _ms(2017, 10, 5)
    assert bucket_start(thursday_evening, "week") == _ms(2017, 10, 2)
    assert bucket_start(thursday_evening, "month") == _ms(2017, 10, 1)


def test_monthly_buckets_cross_the_new_year() -> None:
    docs = [_doc("Acme", d, 60.0, "met") for d in (60, 95, 130)]  # Dec 1, Jan 5, Feb 9
    fig = page_figures(
        docs, "brand", since_ms=_ms(2016, 1, 1), until_ms=_ms(2018, 3, 1), worst=[],
        reference_ms=_ms(2018, 3, 1), generated_ms=_ms(2018, 3, 1),
    )  # fmt: skip
    points = dict(fig.answered_over_time["Acme"])
    assert fig.bucket == "month" and len(points) == 26
    assert [t for t, v in points.items() if v is not None] == [
        _ms(2017, 12, 1), _ms(2018, 1, 1), _ms(2018, 2, 1)
    ]  # fmt: skip


def test_an_empty_range_renders_a_page_that_says_so() -> None:
    fig = page_figures(
        [], "brand", since_ms=T0, until_ms=T0 + DAY, worst=[], reference_ms=T0 + DAY,
        generated_ms=T0 + DAY,
    )  # fmt: skip
    page = render(fig)
    assert "No conversation in this range is waiting for an answer." in page
    assert 'data-group="' not in page


def test_dates_on_the_command_line() -> None:
    assert parse_date("2017-10-01") == _ms(2017, 10, 1)
    assert parse_date("2017-10-01T12:30") == _ms(2017, 10, 1, 12, 30)
    assert parse_date("2017-10-01T12:30+02:00") == _ms(2017, 10, 1, 10, 30)
    with pytest.raises(ValueError, match="not a date"):
        parse_date("last tuesday")


def test_since_after_until_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--since", "2017-10-05", "--until", "2017-10-01"]) == 2
    assert capsys.readouterr().err.strip() == "ascolto report: --since must be before --until"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://elastic:s3cret@es.example:9200", "https://es.example:9200"),
        ("http://user@[::1]:9200/base", "http://[::1]:9200/base"),
        ("http://127.0.0.1:19200", "http://127.0.0.1:19200"),
    ],
)
def test_links_never_carry_the_clusters_login(url: str, shown: str) -> None:
    assert without_credentials(url) == shown
