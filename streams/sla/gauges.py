"""Open conversations and unanswered messages, as gauges, from each customer's summary."""

from __future__ import annotations

from typing import Any

from streams.metrics import WorkerMetrics


class ConversationGauges:
    """Keeps each timeline's last summary; exports their sums per (brand, channel).

    An open conversation that awaits nothing and has been quiet for ``inactivity_ms`` is
    resolved (streams.rules.threading), though its timeline says so only when its customer
    writes again: it is not counted as open from then on. One whose customer awaits an answer
    is counted as its timeline says: a neglected customer does not drop out of the gauges
    by being neglected for long."""

    def __init__(self, inactivity_ms: int) -> None:
        self.inactivity_ms = inactivity_ms
        self._by_key: dict[bytes, tuple[dict[str, list[Any]], bool]] = {}
        self._exported: set[tuple[str, str]] = set()

    def update(self, key: bytes, state: Any, sla: Any) -> None:
        summary = state.sla.get("summary") or {}
        if summary:
            self._by_key[key] = (summary, bool(state.sla.get("live")))
        else:
            self._by_key.pop(key, None)

    def forget(self, key: bytes) -> None:
        self._by_key.pop(key, None)

    def clear(self) -> None:
        self._by_key.clear()

    def export(self, metrics: WorkerMetrics, wall_ms: int, watermark_ms: int) -> None:
        totals: dict[tuple[str, str], list[float]] = {}
        for summary, live in self._by_key.values():
            now = wall_ms if live else watermark_ms
            quiet_since = now - self.inactivity_ms
            for group, (open_convs, unanswered, oldest, *rest) in summary.items():
                brand, channel = group.rsplit("|", 1)  # a brand may hold a "|"
                row = totals.setdefault((metrics.brand(brand), channel), [0, 0, 0.0, 0, 0])
                settled = rest[2] if len(rest) > 2 else ()
                row[0] += (open_convs or 0) - sum(1 for last in settled if last < quiet_since)
                row[1] += unanswered or 0
                if oldest is not None:
                    row[2] = max(row[2], max(0.0, (now - oldest) / 1000))
                row[3] += (rest[0] or 0) if rest else 0
                # an archive's old misses are history, not something to answer now
                row[4] += (rest[1] or 0) if live and len(rest) > 1 else 0
        for labels in self._exported - totals.keys():  # gone: back to zero, not stale
            totals[labels] = [0, 0, 0.0, 0, 0]
        for (brand, channel), (open_convs, unanswered, oldest_s, awaiting, past) in totals.items():
            metrics.open_conversations.labels(brand, channel).set(open_convs)
            metrics.unanswered.labels(brand, channel).set(unanswered)
            metrics.oldest_unanswered_seconds.labels(brand, channel).set(oldest_s)
            metrics.awaiting.labels(brand, channel).set(awaiting)
            metrics.past_hard_limit.labels(brand, channel).set(past)
        self._exported = set(totals)
