"""Which concrete index each document of a batch goes to (docs/index-lifecycle.md).

A document goes to its event-time period's series (ascolto.lifecycle): to the index of the
series that holds its id already (sticky: after a size rollover a newer revision must
overwrite the old copy, or the read alias would show both), else to the period's write
index. Where ids live is read with one realtime ``mget`` per batch over the period's older
indices (realtime: documents not yet refreshed count), only for periods that have more than
one. A period's index that does not exist yet is made here, even for a period past its
retention (an imported archive, a replay): the topics are the record, and only ``maintain``
deletes. A delete (tombstone) carries no time, so it goes to every index of the kind; 404
there is success (streams.sinks.elastic).

The aliases are read once per batch and the documents written to concrete indices, so a
rollover by ``maintain`` between the read and the bulk only sends the batch's new documents
to the previous write index, which is still in the period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from elasticsearch import AsyncElasticsearch

from ascolto import lifecycle
from ascolto.config import ElasticSettings
from ascolto.search import kinds
from streams.sinks.elastic import Action, Failed

log = logging.getLogger("ascolto.placement")


@dataclass
class Series:
    """One alias's concrete indices: per period oldest first, and the legacy ones."""

    periods: dict[str, list[str]] = field(default_factory=dict)
    writes: dict[str, str] = field(default_factory=dict)
    legacy: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        return [i for indices in self.periods.values() for i in indices] + self.legacy

    def older(self, label: str) -> list[str]:
        """Indices of the period an id may already live in besides the write index."""
        write = self.writes.get(label)
        return [i for i in self.periods.get(label, []) if i != write] + self.legacy


def series_of(alias: str, found: Mapping[str, Mapping[str, object]]) -> Series:
    """The Series of ``alias`` from an index -> aliases answer of Elasticsearch."""
    out = Series()
    for index in sorted(found):
        if alias not in found[index]:  # taken out of the read alias: not the kind's any more
            continue
        parsed = lifecycle.parse_index(alias, index)
        if parsed is None:
            out.legacy.append(index)
            continue
        label = parsed[0]
        out.periods.setdefault(label, []).append(index)
        meta = found[index].get(lifecycle.write_alias(alias, label))
        if isinstance(meta, dict) and meta.get("is_write_index"):
            out.writes[label] = index
    for label, indices in out.periods.items():
        out.writes.setdefault(label, indices[-1])
    return out


@dataclass(frozen=True)
class Placed:
    """A batch's actions with their concrete index, and those refused (no time to place by)."""

    writes: dict[str, list[Action]]
    refused: dict[str, list[Failed]]


class Placement:
    def __init__(
        self,
        es: AsyncElasticsearch,
        settings: ElasticSettings,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._es = es
        self._settings = settings.lifecycle
        self._kinds = {settings.alias(kind): kind for kind in kinds()}
        self._now = now

    async def place(self, writes: Mapping[str, Sequence[Action]]) -> Placed:
        """``{alias: actions}`` -> each action with its ``index`` set; another name than a
        kind's alias is written as it is."""
        placed = Placed({alias: [] for alias in writes}, {alias: [] for alias in writes})
        series = await self._series([alias for alias in writes if alias in self._kinds])
        pending: list[tuple[str, str, Action]] = []  # (alias, label, action) to look up
        for alias, actions in writes.items():
            if alias not in self._kinds:
                placed.writes[alias] += actions
                continue
            kind = self._kinds[alias]
            policy = self._settings.policy(kind)
            s = series[alias]
            for action in actions:
                if action.doc is None:
                    placed.writes[alias] += [replace(action, index=i) for i in s.all()]
                    continue
                ms = lifecycle.time_of(kind, action.doc)
                if ms is None:
                    reason = f"no {lifecycle.TIME_FIELDS[kind]} to place the document by"
                    placed.refused[alias].append(Failed(action, 400, reason))
                    continue
                label = lifecycle.period_of(ms, policy.period)
                if label not in s.writes:
                    await self._create(alias, label, s, policy.retention_days)
                pending.append((alias, label, action))
        found = await self._where(pending, series)
        for alias, label, action in pending:
            index = found.get((alias, action.doc_id)) or series[alias].writes[label]
            placed.writes[alias].append(replace(action, index=index))
        return placed

    async def _series(self, aliases: list[str]) -> dict[str, Series]:
        if not aliases:
            return {}
        pattern = ",".join(f"{alias}-*" for alias in aliases)
        resp = await self._es.options(ignore_status=404).indices.get_alias(index=pattern)
        found = {} if "error" in resp.body else resp.body
        return {
            alias: series_of(
                alias,
                {i: v.get("aliases", {}) for i, v in found.items() if i.startswith(f"{alias}-")},
            )
            for alias in aliases
        }

    async def _create(self, alias: str, label: str, series: Series, retention_days: int) -> None:
        index = lifecycle.index_name(alias, label)
        await self._es.options(ignore_status=400).indices.create(
            index=index, aliases=lifecycle.creation_aliases(alias, label)
        )
        if lifecycle.expired(label, retention_days, self._now()):
            log.info("made %s for a period past its retention: maintain deletes it", index)
        series.periods[label] = [index]
        series.writes[label] = index

    async def _where(
        self, pending: list[tuple[str, str, Action]], series: Mapping[str, Series]
    ) -> dict[tuple[str, str], str]:
        """(alias, id) -> the older index of its period that holds it, for ids that are."""
        docs = [
            {"_index": index, "_id": action.doc_id}
            for alias, label, action in pending
            for index in series[alias].older(label)
        ]
        if not docs:
            return {}
        resp = await self._es.mget(docs=docs, realtime=True, source=False)
        held = {(d["_index"], d["_id"]) for d in resp["docs"] if d.get("found")}
        return {
            (alias, action.doc_id): index
            for alias, label, action in pending
            for index in series[alias].older(label)
            if (index, action.doc_id) in held
        }
