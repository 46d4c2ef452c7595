"""``ascolto report --format html``: one self-contained page (charts as inline SVG, styles
inline, no script, a Content-Security-Policy that forbids any load) for support leads.

`page_figures` turns customer messages into the page's figures and `render` those into markup,
both pure; `collect` is the one function that reads Elasticsearch. The table holds the same
figures as `--format json` (`services.report.summarise`), each cell with `data-field` and
`data-value` (the JSON value) so that a program can read it back.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import Elasticsearch

from ascolto.config import Settings
from services import report_charts
from services.report import (
    COLUMNS,
    at_risk,
    customer_messages,
    format_cell,
    human_duration,
    percentile,
    summarise,
)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WORST_LIMIT = 15
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def bucket_for(span_ms: int) -> str:
    """Bucket size for the charts over time: about 10 to 100 points whatever the range."""
    if span_ms <= 2 * DAY_MS:
        return "hour"
    if span_ms <= 62 * DAY_MS:
        return "day"
    if span_ms <= 2 * 366 * DAY_MS:
        return "week"
    return "month"


def bucket_start(ms: int, bucket: str) -> int:
    """Start of the UTC hour, day, ISO week (Monday) or month holding the instant `ms`."""
    if bucket == "hour":
        return ms - ms % HOUR_MS
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    day = datetime(at.year, at.month, at.day, tzinfo=UTC)
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    elif bucket == "month":
        day = day.replace(day=1)
    return int(day.timestamp() * 1000)


def _next_bucket(start_ms: int, bucket: str) -> int:
    if bucket == "month":
        start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        following = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return int(following.timestamp() * 1000)
    return start_ms + {"hour": HOUR_MS, "day": DAY_MS, "week": 7 * DAY_MS}[bucket]


def answered_share(row: Mapping[str, Any]) -> float | None:
    owed = row["answered"] + row["unanswered"]
    return round(row["answered"] / owed, 4) if owed else None


@dataclass(frozen=True)
class PageFigures:
    by: str
    table: dict[str, dict[str, Any]]  # summarise(docs, by): the JSON report
    brands: dict[str, dict[str, Any]]
    response_times: dict[str, list[float]]  # channel -> seconds of the answered messages
    bucket: str
    answered_over_time: dict[str, list[report_charts.Point]]  # brand -> (bucket start, share)
    met_over_time: dict[str, list[report_charts.Point]]
    worst: list[dict[str, Any]]  # services.report.at_risk rows, each with its "link"
    since_ms: int | None
    until_ms: int | None
    reference_ms: int  # "overdue by" is measured from here: the range's end, or now
    generated_ms: int


def page_figures(
    docs: Sequence[Mapping[str, Any]],
    by: str,
    *,
    since_ms: int | None,
    until_ms: int | None,
    worst: list[dict[str, Any]],
    reference_ms: int,
    generated_ms: int,
) -> PageFigures:
    times: dict[str, list[float]] = {}
    for doc in docs:
        if doc.get("answered_by") and not doc.get("duplicate_of"):
            channel = str(doc.get("channel") or "none")
            times.setdefault(channel, []).append(float(doc["response_time_seconds"]))
    instants = [int(d["occurred_at"]) for d in docs if d.get("occurred_at") is not None]
    first = since_ms if since_ms is not None else min(instants, default=generated_ms)
    last = until_ms if until_ms is not None else max(instants, default=generated_ms) + 1
    bucket = bucket_for(last - first)
    in_bucket: dict[int, list[Mapping[str, Any]]] = {}
    for doc in docs:
        if doc.get("occurred_at") is not None:
            in_bucket.setdefault(bucket_start(int(doc["occurred_at"]), bucket), []).append(doc)
    brands = summarise(docs, "brand")
    answered: dict[str, list[report_charts.Point]] = {b: [] for b in brands}
    met: dict[str, list[report_charts.Point]] = {b: [] for b in brands}
    start = bucket_start(first, bucket)
    while in_bucket and start < last:
        rows = summarise(in_bucket.get(start, []), "brand")
        for brand in brands:
            row = rows.get(brand)
            answered[brand].append((start, answered_share(row) if row else None))
            met[brand].append((start, row["sla_met_share"] if row else None))
        start = _next_bucket(start, bucket)
    return PageFigures(
        by=by, table=summarise(docs, by), brands=brands, response_times=times, bucket=bucket,
        answered_over_time=answered, met_over_time=met, worst=worst, since_ms=since_ms,
        until_ms=until_ms, reference_ms=reference_ms, generated_ms=generated_ms,
    )  # fmt: skip


def collect(
    es: Elasticsearch,
    settings: Settings,
    by: str,
    since_ms: int | None,
    until_ms: int | None,
    now_ms: int,
) -> PageFigures:
    """The page's figures from Elasticsearch: the customer messages that occurred in the range,
    and the worst conversations still waiting, those whose deadline lies in the range."""
    alias = settings.elastic.contacts
    docs = list(customer_messages(es, alias, since_ms, until_ms))
    reference = min(until_ms, now_ms) if until_ms is not None else now_ms
    window_s = (reference - (since_ms or 0)) / 1000
    rows = at_risk(es, alias, limit=WORST_LIMIT, now_ms=reference, overdue_for_s=window_s)
    es_url = without_credentials(settings.elastic.url)
    for row in rows:
        row["link"] = settings.support.conversation_link(str(row["conversation_id"]), es_url, alias)
    return page_figures(
        docs, by, since_ms=since_ms, until_ms=until_ms, worst=rows, reference_ms=reference,
        generated_ms=now_ms,
    )  # fmt: skip


def without_credentials(url: str) -> str:
    """The URL without a user:password@ part: the page is shared, the cluster's login is not."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _cards(fig: PageFigures) -> str:
    counts = ("messages", "answered", "unanswered", "sla_met", "sla_breached", "sla_open")
    total = {k: sum(row[k] for row in fig.brands.values()) for k in counts}
    judged = total["sla_met"] + total["sla_breached"]
    every_time = sorted(t for times in fig.response_times.values() for t in times)
    median = percentile(every_time, 50)
    cards = (
        ("customer messages", str(total["messages"]), "messages"),
        ("answered", _share(answered_share(total)), "answered_share"),
        ("SLA met", _share(total["sla_met"] / judged if judged else None), "sla_met_share"),
        ("median response", "-" if median is None else human_duration(median), "p50_seconds"),
        ("SLA clocks open", str(total["sla_open"]), "sla_open"),
    )
    return "".join(
        f'<div class="card" data-total="{key}"><b>{html.escape(value)}</b>{title}</div>'
        for title, value, key in cards
    )


def _table(fig: PageFigures) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in COLUMNS)
    rows = []
    for name, figures in fig.table.items():
        cells = "".join(
            f'<td data-field="{key}" data-value="{html.escape(json.dumps(figures[key]))}">'
            f"{html.escape(format_cell(key, figures[key]))}</td>"
            for key, _ in COLUMNS
        )
        group = html.escape(name)
        rows.append(f'<tr data-group="{group}"><th scope="row">{group}</th>{cells}</tr>')
    return (
        f'<table class="figures" data-by="{html.escape(fig.by)}"><thead><tr>'
        f"<th>{html.escape(fig.by)}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _waiting(row: Mapping[str, Any], reference_ms: int) -> str:
    left = (int(row["sla"]["deadline"]) - reference_ms) / 1000
    return f"overdue {human_duration(-left)}" if left < 0 else f"due in {human_duration(left)}"


def _worst(fig: PageFigures) -> str:
    if not fig.worst:
        return '<p class="none">No conversation in this range is waiting for an answer.</p>'
    rows = []
    for r in fig.worst:
        body = " ".join(str(r.get("body") or "").split())
        body = body if len(body) <= 140 else body[:139] + "…"
        sla = r.get("sla") or {}
        cells = (
            _waiting(r, fig.reference_ms), _when(sla.get("deadline")), sla.get("target"),
            r.get("brand"), r.get("channel"), r.get("priority") or "-",
        )  # fmt: skip
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
        link = html.escape(str(r["link"]))
        rows.append(
            f'<tr class="{"late" if "overdue" in cells[0] else "soon"}">{tds}'
            f'<td class="body"><a href="{link}">{html.escape(body) or "(no text)"}</a></td></tr>'
        )
    head = "".join(
        f"<th>{t}</th>"
        for t in ("waiting", "deadline", "target", "brand", "channel", "prio", "message")
    )
    body = "".join(rows)
    return f'<table class="worst"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render(fig: PageFigures) -> str:
    since = _when(fig.since_ms) if fig.since_ms is not None else "the first one"
    until = (
        f"{_when(fig.until_ms)}</b> (excluded)" if fig.until_ms is not None else "the last one</b>"
    )
    answered = {b: answered_share(row) for b, row in fig.brands.items()}
    met = {b: row["sla_met_share"] for b, row in fig.brands.items()}
    charts = (
        ("First response time per channel", report_charts.response_times(fig.response_times)),
        ("Answered and SLAs met, by brand", report_charts.brand_shares(answered, met)),
        (f"Answered and SLAs met, per {fig.bucket}",
         report_charts.shares_over_time(fig.answered_over_time, fig.met_over_time, fig.bucket)),
    )  # fmt: skip
    sections = "".join(
        f'<section class="chart {kind}"><h2>{html.escape(title)}</h2>{svg}</section>'
        for (title, svg), kind in zip(charts, ("", "", "wide"), strict=True)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ascolto report</title><style>{STYLE}</style></head>
<body><header><h1>Ascolto support report</h1>
<p class="range" data-since="{fig.since_ms or ""}" data-until="{fig.until_ms or ""}">
Customer messages that occurred from <b>{since}</b> to <b>{until};
over time, per {fig.bucket}. Generated {_when(fig.generated_ms)}.</p></header>
<div class="cards">{_cards(fig)}</div>
<div class="charts">{sections}</div>
<section><h2>Worst open conversations</h2>
<p class="note">Unanswered, open or breached, deadline in the range; the longest overdue first,
then the nearest deadline. Measured from {_when(fig.reference_ms)}.</p>{_worst(fig)}</section>
<section><h2>Figures by {html.escape(fig.by)}</h2>
<p class="note">The same figures as <code>ascolto report --format json</code> for this range.</p>
{_table(fig)}</section>
</body></html>
"""


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:24px;
 max-width:1360px;color:#1d2330;background:#f5f6f8}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}
.range,.note{color:#555;margin:4px 0 12px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border-radius:8px;padding:10px 16px;min-width:140px;color:#555;
 box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px;color:#1d2330}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
section{background:#fff;border-radius:8px;padding:14px 16px;margin:0 0 16px;
 box-shadow:0 1px 2px #0002}
.chart svg{display:block;width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid #e4e6eb;text-align:right;white-space:nowrap}
th:first-child,.worst th,.worst td{text-align:left}
.chart.wide{grid-column:1/-1}
td.body{white-space:normal;max-width:520px}
tr.late td:first-child{color:#b3261e;font-weight:600}tr.soon td:first-child{color:#8a5a00}
a{color:#1558d6}
"""
