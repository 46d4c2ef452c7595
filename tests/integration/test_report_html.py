"""`ascolto report --format html` on an imported archive, rendered in headless Chromium: the
page logs no error and loads nothing from the network, its inline SVG charts are drawn with one
line or bar per figure, and the figures read back from its DOM equal `--format json` for the
same range."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from ascolto.config import Settings
from services.client import post_contacts
from services.importers.run import run_import
from services.importers.twitter import read_archive
from services.observe import wait_settled
from services.report import at_risk, customer_messages, parse_date, summarise
from services.report_html import answered_share
from tests.support.browser import visit
from tests.support.stack import ASCOLTO, Pipeline, make_pipeline, teardown_pipeline
from tests.support.twitter_archive import generate
from tests.support.waiting import wait_until

SINCE, UNTIL = "2017-10-04", "2017-10-14"
EVIL_BRAND = "<b>Evil</b> & Co"
EVIL_BODY = "<script>console.error('injected')</script> my order <img src=x onerror=alert(1)>"
# The table's cells, the charts as laid out and the worst conversations' links, read in the page.
READ_PAGE = """(() => {
  const table = {};
  for (const tr of document.querySelectorAll('table.figures tr[data-group]')) {
    const row = table[tr.dataset.group] = {};
    for (const td of tr.querySelectorAll('td[data-field]')) {
      row[td.dataset.field] = JSON.parse(td.dataset.value);
    }
  }
  return {
    table,
    charts: [...document.querySelectorAll('section.chart svg')].map(svg => {
      const box = svg.getBoundingClientRect();
      const drawn = [...svg.querySelectorAll('.series, rect.bar')].filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 || r.height > 0;
      });
      return {
        name: svg.getAttribute('class'), width: box.width, height: box.height,
        title: svg.querySelector('title').textContent, drawn: drawn.length,
        series: [...svg.querySelectorAll('.series')].map(
          e => [e.dataset.series, e.dataset.measure || null]),
        bars: [...svg.querySelectorAll('rect.bar')].map(
          b => [b.dataset.brand, b.dataset.series, Number(b.dataset.value)]),
      };
    }),
    links: [...document.querySelectorAll('table.worst a')].map(a => a.getAttribute('href')),
    text: document.body.innerText,
  };
})()"""


@pytest.fixture(scope="module")
def imported(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("report-html")
    pipe = make_pipeline(base_settings, tmp)
    try:
        archive = generate(800, seed=31)
        path = archive.write(tmp / "twcs.csv")
        run_import(pipe.settings, lambda p: read_archive(path, on_progress=p), wait=True,
                   progress=False)  # fmt: skip
        evil = {
            "source": "report-html", "source_id": "evil-1", "channel": "social",
            "direction": "inbound", "brand": EVIL_BRAND, "customer_handle": "mallory",
            "occurred_at": f"{SINCE}T00:00:00Z", "conversation_ref": "evil", "body": EVIL_BODY,
        }  # fmt: skip
        assert not post_contacts(pipe.ingest_url, [evil]).refused
        wait_settled(pipe.settings)
        _wait_stable(pipe)
        yield pipe, archive, tmp
    finally:
        teardown_pipeline(pipe)


def _wait_stable(pipe: Pipeline) -> None:
    """The SLA clocks of a replay are judged just after the import: the same report twice."""
    seen: list[dict] = []

    def stable() -> bool:
        pipe.es.indices.refresh(index=pipe.settings.elastic.contacts)
        seen.append(summarise(customer_messages(pipe.es, pipe.settings.elastic.contacts), "brand"))
        time.sleep(1.5)
        return len(seen) > 1 and seen[-1] == seen[-2]

    wait_until(stable, 90, "the report to stop changing")


def _ascolto(pipe: Pipeline, *args: str) -> str:
    done = subprocess.run(
        [ASCOLTO, "report", *args], env=pipe.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20]), int.from_bytes(png[20:24])


def _expected_charts(by_brand: dict, by_channel: dict) -> dict[str, dict]:
    """What the charts must hold for these JSON reports: a line per channel with an answer,
    a bar and a line over time per brand and share that has a value."""
    shares = [
        (brand, measure, share)
        for brand, row in sorted(by_brand.items())
        for measure, share in (("answered", answered_share(row)), ("SLA met", row["sla_met_share"]))
        if share is not None
    ]
    return {
        "chart-response-times": {
            "series": [[c, None] for c, row in sorted(by_channel.items()) if row["answered"]],
            "bars": [],
        },
        "chart-brand-shares": {"series": [], "bars": [list(s) for s in shares]},
        "chart-shares-over-time": {
            "series": [[b, m] for m in ("answered", "SLA met") for b, mm, _ in shares if mm == m],
            "bars": [],
        },
    }


def test_range_keeps_the_messages_that_occurred_in_it(imported) -> None:
    pipe, archive, _ = imported
    since, until = parse_date(SINCE) // 1000, parse_date(UNTIL) // 1000
    expected = Counter(
        p.brand for p in archive.posts.values() if p.inbound and since <= p.at < until
    )
    expected[EVIL_BRAND] += 1
    ranged = json.loads(_ascolto(pipe, "--format", "json", "--since", SINCE, "--until", UNTIL))
    everything = json.loads(_ascolto(pipe, "--format", "json"))
    assert {brand: row["messages"] for brand, row in ranged.items()} == dict(expected)
    assert sum(r["messages"] for r in ranged.values()) < sum(
        r["messages"] for r in everything.values()
    )
    table = _ascolto(pipe, "--since", SINCE, "--until", UNTIL, "--by", "channel")
    assert table.splitlines()[0].split()[:2] == ["channel", "messages"]


def test_html_page_renders_without_errors_and_shows_the_json_figures(imported) -> None:
    pipe, _, tmp = imported
    by_range = ("--since", SINCE, "--until", UNTIL)
    report = json.loads(_ascolto(pipe, "--format", "json", *by_range))
    by_channel = json.loads(_ascolto(pipe, "--format", "json", "--by", "channel", *by_range))
    page = tmp / "report.html"
    assert _ascolto(pipe, "--format", "html", *by_range, "--output", str(page)) == ""

    seen = visit(page, READ_PAGE)
    (tmp / "report.png").write_bytes(seen.screenshot)

    assert seen.errors == [] and seen.requests == []
    assert seen.value["table"] == report
    # unanswered since the range began: the most overdue, shown as text, never run
    assert report[EVIL_BRAND]["unanswered"] == 1 and EVIL_BODY in seen.value["text"]
    charts = {c["name"]: c for c in seen.value["charts"]}
    expected = _expected_charts(report, by_channel)
    assert list(charts) == list(expected)
    for name, chart in charts.items():
        assert chart["width"] > 500 and chart["height"] > 150, chart
        assert chart["series"] == expected[name]["series"], name
        assert [b[:2] for b in chart["bars"]] == [b[:2] for b in expected[name]["bars"]]
        assert [b[2] for b in chart["bars"]] == pytest.approx(
            [b[2] for b in expected[name]["bars"]]
        )
        assert chart["drawn"] == len(chart["series"]) + len(chart["bars"]) > 0, name
    assert len(charts["chart-brand-shares"]["bars"]) > len(report)  # a brand with both shares
    width, height = _png_size(seen.screenshot)
    assert width == 1280 and height > 1000

    settings = pipe.settings
    reference = parse_date(UNTIL)
    worst = at_risk(pipe.es, settings.elastic.contacts, limit=15, now_ms=reference,
                    overdue_for_s=(reference - parse_date(SINCE)) / 1000)  # fmt: skip
    assert worst, "the range has unanswered conversations"
    assert seen.value["links"] == [
        settings.support.conversation_link(r["conversation_id"], settings.elastic.url,
                                           settings.elastic.contacts)
        for r in worst
    ]  # fmt: skip


def test_page_that_tries_to_load_or_log_is_caught(tmp_path: Path) -> None:
    """The checks above can fail: the same helper on a page that does both."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!doctype html><img src="http://127.0.0.1:9/pixel.png">'
        "<script>console.error('visible'); undefinedFunction();</script>"
    )
    seen = visit(page)
    assert "http://127.0.0.1:9/pixel.png" in seen.requests
    assert any("visible" in e for e in seen.errors)
    assert any("exception" in e for e in seen.errors)
