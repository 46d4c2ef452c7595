"""Enriched records as the thread stage receives them, for the unit tests of that stage and
of the stages after it (publish, index, the SLA gauges): one customer's thread of five."""

from __future__ import annotations

from streams.rules.threading import ThreadingParams
from streams.sla.policy import parse_policy
from streams.stages.timeline import SlaContext

POLICY = parse_policy(
    """
version: 1
rules:
  - name: default
    targets: {first_response: 1h, next_response: 1h, resolution: 1d}
"""
)
PARAMS = ThreadingParams()
T0 = 1_790_000_000_000
MIN = 60_000


def record(sid: str, direction: str, at: int, parent: str | None, body: str) -> dict:
    contact: dict[str, object] = {
        "contact_id": f"id-{sid}", "source": "t", "source_id": sid, "channel": "social",
        "direction": direction, "kind": "message", "brand": "b", "customer_handle": "c",
        "customer_email": None, "conversation_ref": None, "in_reply_to": parent,
        "references": [], "occurred_at": at, "received_at": at + 86_400_000, "subject": None,
        "body": body, "language": None, "attributes": {},
    }  # fmt: skip
    return {
        "contact": contact, "language": "en", "sentiment_score": -0.5,
        "sentiment_label": "negative", "sentiment_supported": True,
        "intent": "complaint" if direction == "inbound" else None, "visibility": "public",
        "priority": "P2" if direction == "inbound" else None, "asks_customer": False,
        "fingerprint": f"fp-{sid}" if direction == "inbound" else None,
        "customer_id": "handle:c", "account_id": None, "tier": None,
        "conversation_id": None, "duplicate_of": None, "owed_answer": False,
        "answered_by": None, "answered_at": None, "response_time_seconds": None, "sla": None,
        "revision": 0, "is_update": False, "processed_at": 0,
    }  # fmt: skip


RECORDS = [
    record("q1", "inbound", T0, None, "order 1 lost"),
    record("a1", "outbound", T0 + 30 * MIN, "q1", "sorry, checking"),
    record("q2", "inbound", T0 + 40 * MIN, "a1", "still lost, order 1"),
    record("a2", "outbound", T0 + 200 * MIN, "q2", "found it"),
    record("q3", "inbound", T0 + 300 * MIN, None, "new problem with invoice 7"),
]
SLA = SlaContext(POLICY, lateness_ms=600_000, wall_ms=T0 + 10**9, watermark_ms=T0 + 500 * MIN)
