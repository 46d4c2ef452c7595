"""``ascolto report``: who was answered, and how fast, computed from Elasticsearch.

Percentiles are exact (linear interpolation between ranks, numpy's default), computed here
from every response time, not Elasticsearch's approximate percentiles aggregation.
`--since`/`--until` keep the customer messages whose occurred_at lies in [since, until).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

GROUPINGS = ("brand", "channel", "priority", "policy")
FIELDS = (
    "brand", "channel", "priority", "duplicate_of", "owed_answer", "answered_by",
    "response_time_seconds", "sla", "occurred_at",
)  # fmt: skip


def parse_date(text: str) -> int:
    """Epoch ms of a day (2017-10-01: its midnight, UTC) or an ISO-8601 time (UTC if no zone)."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date (2017-10-01) or an ISO-8601 time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks."""
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass
class Group:
    messages: int = 0
    duplicates: int = 0
    answered: int = 0
    unanswered: int = 0
    sla_met: int = 0
    sla_breached: int = 0
    sla_open: int = 0
    response_times: list[float] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        times = sorted(self.response_times)
        judged = self.sla_met + self.sla_breached
        out = {k: v for k, v in asdict(self).items() if k != "response_times"}
        out["p50_seconds"] = percentile(times, 50)
        out["p90_seconds"] = percentile(times, 90)
        out["sla_met_share"] = round(self.sla_met / judged, 4) if judged else None
        return out


def group_key(doc: Mapping[str, Any], by: str) -> str:
    if by == "policy":
        return str((doc.get("sla") or {}).get("policy") or "none")
    return str(doc.get(by) or "none")


def summarise(docs: Iterable[Mapping[str, Any]], by: str) -> dict[str, dict[str, Any]]:
    """Customer messages (inbound, kind=message) -> per-group figures."""
    groups: dict[str, Group] = {}
    for doc in docs:
        g = groups.setdefault(group_key(doc, by), Group())
        g.messages += 1
        if doc.get("duplicate_of"):
            g.duplicates += 1
            continue
        if doc.get("answered_by"):
            g.answered += 1
            g.response_times.append(float(doc["response_time_seconds"]))
        else:
            g.unanswered += 1
        outcome = (doc.get("sla") or {}).get("outcome")
        if outcome == "met":
            g.sla_met += 1
        elif outcome == "breached":
            g.sla_breached += 1
        else:
            g.sla_open += 1
    return {name: groups[name].row() for name in sorted(groups)}


def customer_messages(
    es: Elasticsearch, alias: str, since_ms: int | None = None, until_ms: int | None = None
) -> Iterator[dict[str, Any]]:
    """Customer messages, those that occurred in [since_ms, until_ms) when given."""
    filters: list[dict[str, Any]] = [
        {"term": {"direction": "inbound"}},
        {"term": {"kind": "message"}},
    ]
    if since_ms is not None or until_ms is not None:
        bounds = {"gte": since_ms, "lt": until_ms}
        window = {k: v for k, v in bounds.items() if v is not None}
        filters.append({"range": {"occurred_at": {**window, "format": "epoch_millis"}}})
    query = {"query": {"bool": {"filter": filters}}, "_source": list(FIELDS)}
    for hit in scan(es, index=alias, query=query, size=5000, scroll="2m"):
        yield hit["_source"]


COLUMNS = (
    ("messages", "messages"), ("duplicates", "dups"), ("answered", "answered"),
    ("unanswered", "unanswered"), ("p50_seconds", "p50"), ("p90_seconds", "p90"),
    ("sla_met", "sla met"), ("sla_breached", "breached"), ("sla_open", "open"),
    ("sla_met_share", "met %"),
)  # fmt: skip


def format_cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("p50_seconds", "p90_seconds"):
        return human_duration(float(value))
    if key == "sla_met_share":
        return f"{100 * value:.1f}%"
    return str(value)


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def render_table(report: Mapping[str, Mapping[str, Any]], by: str) -> str:
    header = [by] + [title for _, title in COLUMNS]
    rows = [[name] + [format_cell(k, fig[k]) for k, _ in COLUMNS] for name, fig in report.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)])

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def at_risk(
    es: Elasticsearch,
    alias: str,
    *,
    limit: int = 20,
    brand: str | None = None,
    overdue_for_s: float = 24 * 3600,
    now_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Conversations waiting for an answer, the nearest deadline first (overdue ones on top).

    One row per conversation (field collapsing on conversation_id), from the customer messages
    owed an answer and not answered, open or breached, whose deadline is at most
    `overdue_for_s` ago. A breach does not end the wait: an unanswered complaint is the most
    urgent row, until it is older than the window. An archive's old messages stay out, the
    open ones too (its clock stops where it ends: their deadlines lie years back).
    """
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    filters: list[dict[str, Any]] = [
        {"term": {"owed_answer": True}},
        {"terms": {"sla.outcome": ["open", "breached"]}},
        {"range": {"sla.deadline": {"gte": now - int(overdue_for_s * 1000)}}},
    ]
    if brand:
        filters.append({"term": {"brand": brand}})
    resp = es.search(
        index=alias,
        query={"bool": {"filter": filters, "must_not": [{"exists": {"field": "answered_by"}}]}},
        collapse={"field": "conversation_id"},
        sort=[{"sla.deadline": "asc"}],
        size=limit,
        source_includes=["conversation_id", "contact_id", "brand", "channel", "priority", "tier",
                "customer_id", "occurred_at", "sla", "body"],
    )  # fmt: skip
    return [hit["_source"] for hit in resp["hits"]["hits"]]


def render_at_risk(rows: Sequence[Mapping[str, Any]], now_ms: int | None = None) -> str:
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    lines = [f"{'due in':>9}  {'target':<15} {'brand':<14} {'channel':<8} {'prio':<4} message"]
    for r in rows:
        left = (r["sla"]["deadline"] - now) / 1000
        due = ("-" + human_duration(-left)) if left < 0 else human_duration(left)
        text = " ".join(str(r.get("body", "")).split())[:60]
        lines.append(
            f"{due:>9}  {r['sla']['target']:<15} {r['brand'][:14]:<14} {r['channel']:<8} "
            f"{r.get('priority') or '-':<4} {text}"
        )
    if not rows:
        lines.append("(no open conversation is waiting for an answer)")
    return "\n".join(lines)
