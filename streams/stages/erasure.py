"""Erasure on request (``ascolto erase``, docs/privacy.md), the thread stage's part (pure):
what to withdraw of a customer's timeline, and the audit event that says so.

Everything the thread stage publishes is derived from the timeline, so the timeline names it
all: each contact (contacts.enriched, key contact_id), each conversation it derives
(conversations), each SLA event it remembers publishing (sla.events). Each gets a tombstone,
at a revision above any the customer had, so that an older write can never win over the
delete in Elasticsearch (versioned by revision, ``external_gte``).
"""

from __future__ import annotations

from typing import Any

from streams.rules.threading import ThreadingParams, derive
from streams.stages.timeline import Threaded, TimelineState


def withdrawn(state: TimelineState, params: ThreadingParams) -> Threaded:
    """Tombstones for every record published from this timeline; none for an empty one."""
    out = Threaded(revision=state.revision + 1)
    if not state.messages:
        return out
    derived = state.derived if state.derived is not None else derive(state.messages, params)
    out.contact_tombstones = sorted(state.messages)
    out.conversations = [(c.encode(), None) for c in sorted(derived.conversations)]
    out.sla_retractions = sorted(state.sla.get("events", {}))
    return out


def worker_audit(request: dict[str, Any], out: Threaded, erased_at_ms: int) -> dict[str, Any]:
    """The AuditEvent of one erased timeline: the request, the brand and counts, nothing
    that names the person (no customer id: an unknown customer's id is their handle)."""
    return {
        "request_id": request["request_id"],
        "actor": "worker",
        "part": request["part"],
        "brands": [request["brand"]],
        "counts": {
            "timelines": int(bool(out.contact_tombstones)),
            "contacts": len(out.contact_tombstones),
            "conversations": len(out.conversations),
            "sla_events": len(out.sla_retractions),
        },
        "occurred_at": erased_at_ms,
    }
