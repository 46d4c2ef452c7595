"""``ascolto indices maintain`` and ``status``: the index lifecycle's upkeep on the cluster.

maintain, per kind: make the current and next periods' indices; start a period's next index
when its write index has grown past the rollover size; delete the indices whose period ended
more than the kind's retention ago. Safe to run at any time and any number of times (a
CronJob runs it hourly); the index stage makes a missing period's index itself.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from ascolto import lifecycle
from ascolto.config import ElasticSettings
from ascolto.search import backing_indices, kinds, setup_indices

log = logging.getLogger("ascolto.indices")


@dataclass(frozen=True)
class IndexState:
    kind: str
    index: str
    period: str | None  # None: a legacy index
    docs: int
    primary_bytes: int
    size_bytes: int
    write: bool
    delete_after: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "delete_after": self.delete_after.isoformat() if self.delete_after else None,
        }


@dataclass
class Maintained:
    created: list[str] = field(default_factory=list)
    rolled_over: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def status(settings: ElasticSettings, es: Elasticsearch) -> list[IndexState]:
    """Every concrete index of every kind, oldest period first."""
    out: list[IndexState] = []
    for kind in kinds():
        alias = settings.alias(kind)
        indices = backing_indices(es, alias)
        if not indices:
            continue
        stats = es.indices.stats(index=f"{alias}-*", metric="docs,store")["indices"]
        retention = settings.lifecycle.policy(kind).retention_days
        for index in sorted(indices):
            parsed = lifecycle.parse_index(alias, index)
            s = stats.get(index, {})
            write_alias = lifecycle.write_alias(alias, parsed[0]) if parsed else None
            out.append(
                IndexState(
                    kind=kind,
                    index=index,
                    period=parsed[0] if parsed else None,
                    docs=s.get("primaries", {}).get("docs", {}).get("count", 0),
                    primary_bytes=s.get("primaries", {}).get("store", {}).get("size_in_bytes", 0),
                    size_bytes=s.get("total", {}).get("store", {}).get("size_in_bytes", 0),
                    write=bool(
                        write_alias
                        and indices[index].get(write_alias, {}).get("is_write_index", False)
                    ),
                    delete_after=(
                        lifecycle.expires_at(parsed[0], retention)
                        if parsed
                        else _legacy_expiry(es, kind, index, retention)
                    ),
                )
            )
    return out


def _legacy_expiry(es: Elasticsearch, kind: str, index: str, retention: int) -> datetime | None:
    """A legacy index expires with its newest document (by the kind's time field); an empty
    one never does by itself."""
    time_field = lifecycle.TIME_FIELDS[kind]
    found = es.search(index=index, size=0, aggs={"newest": {"max": {"field": time_field}}})
    newest = found["aggregations"]["newest"]["value"]
    if newest is None:
        return None
    return datetime.fromtimestamp(newest / 1000, UTC) + timedelta(days=retention)


def maintain(
    settings: ElasticSettings, es: Elasticsearch, now: datetime | None = None
) -> Maintained:
    now = now or datetime.now(UTC)
    done = Maintained(created=setup_indices(settings, es, now))
    for state in status(settings, es):
        if state.delete_after is not None and state.delete_after < now:
            es.options(ignore_status=404).indices.delete(index=state.index)
            done.deleted.append(state.index)
            log.info("deleted %s: its period ended more than the retention ago", state.index)
        elif state.write and settings.lifecycle.rollover_due(state.docs, state.primary_bytes):
            done.rolled_over.append(_roll_over(es, settings.alias(state.kind), state))
    return done


def _roll_over(es: Elasticsearch, alias: str, state: IndexState) -> str:
    """Start the period's next index and move the period's write alias to it, atomically."""
    assert state.period is not None
    label = state.period
    new = lifecycle.next_generation(alias, list(backing_indices(es, alias)), label)
    es.indices.create(index=new, aliases=lifecycle.creation_aliases(alias, label, write=False))
    write_alias = lifecycle.write_alias(alias, label)
    es.indices.update_aliases(
        actions=[
            {"add": {"index": state.index, "alias": write_alias, "is_write_index": False}},
            {"add": {"index": new, "alias": write_alias, "is_write_index": True}},
        ]
    )
    log.info("rolled %s over to %s (%d docs)", state.index, new, state.docs)
    return new
