"""``ascolto indices migrate INDEX``: re-create one concrete index under a new mapping and move
its aliases to it while the pipeline writes, with no document lost or doubled
(docs/index-migration.md tells why each step is there).

1. the new index (the period's next generation), no aliases, deletes remembered for an hour;
2. copy passes over point-in-time scans, at each document's version (``external_gte``);
3. the new index's sequence numbers recorded in its ``_meta``, then every alias moved in one
   ``_aliases`` request;
4. the old index settles (the index stage reads the aliases once per batch) and is blocked;
5. what it got since the last pass is copied, every one of its ids checked in the new index,
   and the copies of documents deleted from it meanwhile deleted;
6. the old index deleted and its name made an alias of the new one (``--keep-old``: kept,
   blocked, outside the aliases).

Each step can be repeated: a re-run after a crash finds the new index by its ``_meta`` and
the step reached from the aliases, the ``_meta`` and the block, all in the cluster.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ascolto import migration_plan as plan
from ascolto.config import ElasticSettings, Settings
from ascolto.search import TEMPLATE_DIR, client, kinds, template_body

log = logging.getLogger("ascolto.migrate")

META = "ascolto_migration"
# Deletes are remembered this long in the new index while the migration runs, so that a copy
# of an older version cannot bring back a document the pipeline deleted there (60 s default).
GC_DELETES = "1h"
BATCH = 1000
KEEP_ALIVE = "5m"
MAX_CATCH_UP_PASSES = 5
SETTLE_LIMIT_S = 120.0


class MigrationError(Exception):
    """The migration refused or could not go on; the message is one line."""


@dataclass
class Report:
    old: str
    new: str
    copied: int = 0
    newer_there: int = 0
    deleted: int = 0
    old_docs: int = 0
    new_docs: int = 0
    kept_old: bool = False
    already_done: bool = False
    refused: list[tuple[str, str]] = field(default_factory=list)  # (id, reason) after the swap

    def lines(self) -> list[str]:
        if self.already_done:
            return [f"{self.old} was migrated to {self.new} already: nothing to do"]
        old = f"kept {self.old} (write-blocked, no aliases)" if self.kept_old else (
            f"deleted {self.old} (its name is now an alias of {self.new})"
        )  # fmt: skip
        return [
            f"migrated {self.old} -> {self.new}: {self.copied} documents copied, "
            f"{self.newer_there} newer in {self.new} already, {self.deleted} deleted copies",
            f"{self.old}: {self.old_docs} documents; {self.new}: {self.new_docs}",
            old,
        ]


class Migration:
    def __init__(
        self,
        es: Elasticsearch,
        old: str,
        body: Mapping[str, Any],
        alias: str | None,
        *,
        settle_s: float = 5.0,
        keep_old: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.es = es
        self.old = old
        self.body = body
        self.alias = alias  # the kind's read alias, when the index is one of a kind's
        self.settle_s = settle_s
        self.keep_old = keep_old
        self.clock = clock

    def run(self) -> Report:
        done = self._already_done()
        if done is not None:
            return Report(self.old, done, already_done=True)
        aliases = self._old_aliases()
        new = self._find_new() or self._create_new()
        report = Report(self.old, new)
        meta = self._meta(new)
        if aliases or "new_seq_nos" not in meta:
            self._before_swap(new, report)
            self._swap(new)
        self._settle_and_block()
        if not self._meta(new).get("verified"):  # done once: its tombstones may be gone now
            self._after_swap(new, report)
            if report.refused:
                first_id, why = report.refused[0]
                raise MigrationError(
                    f"{new} refused {len(report.refused)} documents of {self.old} written just "
                    f"before the swap, first {first_id}: {why}; {self.old} kept (write-blocked)"
                )
            self._put_meta(new, verified=True)
        self.es.indices.put_settings(index=new, settings={"index.gc_deletes": None})
        self.es.indices.refresh(index=f"{self.old},{new}")
        report.old_docs = self.es.count(index=self.old)["count"]
        report.new_docs = self.es.count(index=new)["count"]
        if self.keep_old:
            report.kept_old = True
        else:
            self.es.indices.update_aliases(actions=plan.retire_actions(self.old, new))
        return report

    # -- where things stand ------------------------------------------------------------

    def _already_done(self) -> str | None:
        if self.es.indices.exists(index=self.old) and not self.es.indices.exists_alias(
            name=self.old
        ):
            return None
        if self.es.indices.exists_alias(name=self.old):
            found = list(self.es.indices.get_alias(name=self.old).body)
            for index in found:
                if self._meta(index).get("from") == self.old:
                    return index
            raise MigrationError(
                f"{self.old} is an alias (of {', '.join(sorted(found))}): name one concrete index"
            )
        raise MigrationError(f"no index {self.old}")

    def _old_aliases(self) -> dict[str, dict[str, Any]]:
        found = self.es.indices.get_alias(index=self.old).body
        return dict(found[self.old].get("aliases", {}))

    def _candidates(self) -> list[str]:
        pattern = plan.family(self.old, self.alias)
        found = self.es.options(ignore_status=404).indices.get_alias(
            index=pattern, expand_wildcards="all"
        )
        return [] if "error" in found.body else sorted(found.body)

    def _find_new(self) -> str | None:
        for index in self._candidates():
            if index != self.old and self._meta(index).get("from") == self.old:
                return index
        return None

    def _meta(self, index: str) -> dict[str, Any]:
        mapping = self.es.indices.get_mapping(index=index).body[index]["mappings"]
        return dict(mapping.get("_meta", {}).get(META, {}))

    def _put_meta(self, index: str, **values: Any) -> None:
        mapping = self.es.indices.get_mapping(index=index).body[index]["mappings"]
        meta = dict(mapping.get("_meta", {}))
        meta[META] = {**meta.get(META, {}), **values}
        self.es.indices.put_mapping(index=index, meta=meta)

    # -- 1: the new index ----------------------------------------------------------------

    def _create_new(self) -> str:
        new = plan.successor(self.old, self._candidates(), self.alias)
        settings = {**self.body.get("settings", {}), "gc_deletes": GC_DELETES}
        mappings = dict(self.body.get("mappings", {}))
        mappings["_meta"] = {**mappings.get("_meta", {}), META: {"from": self.old}}
        self.es.indices.create(index=new, settings=settings, mappings=mappings)
        if self._definition(new) == self._definition(self.old):
            self.es.indices.delete(index=new)
            raise MigrationError(
                f"{self.old} already has this mapping, analysis and shards: nothing to migrate"
            )
        log.info("created %s for %s", new, self.old)
        return new

    def _definition(self, index: str) -> dict[str, Any]:
        mappings = self.es.indices.get_mapping(index=index).body[index]["mappings"]
        settings = self.es.indices.get_settings(index=index).body[index]["settings"]
        return plan.definition(mappings, settings)

    # -- 2, 3: copies, then the swap -----------------------------------------------------

    def _before_swap(self, new: str, report: Report) -> None:
        checkpoints = self._checkpoints(self.old)
        self._copy_pass(new, {"match_all": {}}, report, refuse=True)
        for _ in range(MAX_CATCH_UP_PASSES):  # catch up with what came during the last pass
            since, checkpoints = checkpoints, self._checkpoints(self.old)
            if self._copy_pass(new, plan.seq_after(since), report, refuse=True) < BATCH:
                break
        self.es.indices.refresh(index=new)
        # Only copies have been written to the new index so far: a document there at or
        # below these sequence numbers was last written by a copy, before the swap.
        self._put_meta(new, new_seq_nos=self._max_seq_nos(new), old_checkpoints=checkpoints)

    def _swap(self, new: str) -> None:
        aliases = self._old_aliases()  # now: a rollover may have moved the write flag since
        if aliases:
            self.es.indices.update_aliases(actions=plan.swap_actions(self.old, new, aliases))
            log.info("moved %s from %s to %s", ", ".join(sorted(aliases)), self.old, new)

    # -- 4: the old index settles -----------------------------------------------------------

    def _settle_and_block(self) -> None:
        """Wait until nothing has been written to the old index for ``settle_s`` (a batch of
        the index stage that read the aliases before the swap may still be writing there),
        then block its writes: a later straggler fails loudly (a dead letter to replay)
        instead of landing where nobody reads."""
        found = self.es.indices.get_settings(
            index=self.old, name="index.blocks.write", flat_settings=True
        ).body
        if found.get(self.old, {}).get("settings", {}).get("index.blocks.write") == "true":
            return
        last, quiet_since, start = self._max_seq_nos(self.old), self.clock(), self.clock()
        while self.clock() - quiet_since < self.settle_s:
            if self.clock() - start > SETTLE_LIMIT_S:
                log.warning("%s still written %.0f s after the swap", self.old, SETTLE_LIMIT_S)
                break
            time.sleep(min(0.5, self.settle_s))
            now = self._max_seq_nos(self.old)
            if now != last:
                last, quiet_since = now, self.clock()
        self.es.indices.put_settings(index=self.old, settings={"index.blocks.write": True})

    # -- 5: stragglers, every old id checked, deletes reconciled -------------------------

    def _after_swap(self, new: str, report: Report) -> None:
        meta = self._meta(new)
        self.es.indices.refresh(index=self.old)
        self._copy_pass(new, plan.seq_after(meta.get("old_checkpoints", {})), report)
        self._check_every_old_id(new, report)
        self._delete_copies_deleted_in_old(new, meta["new_seq_nos"], report)

    def _check_every_old_id(self, new: str, report: Report) -> None:
        for hits in self._scan(self.old, {"match_all": {}}, source=False):
            versions = {h["_id"]: h["_version"] for h in hits}
            there = self.es.mget(index=new, ids=list(versions), source=False, realtime=True)
            behind = plan.missing_or_older(versions, there["docs"])
            if behind:  # missing: deleted since the swap (a 409 says so) or not copied yet
                found = self.es.mget(index=self.old, ids=behind, realtime=True)["docs"]
                self._copy(new, [d for d in found if d.get("found")], report)

    def _delete_copies_deleted_in_old(
        self, new: str, seq_nos: Mapping[str, int], report: Report
    ) -> None:
        """A copy made before the swap whose document the old index no longer has was
        deleted there after it was copied: delete it here too, at the version copied (a
        newer write since then stays). Documents written after the swap are above the
        recorded sequence numbers and are not looked at."""
        self.es.indices.refresh(index=new)
        for shard, top in seq_nos.items():
            after = -1
            while True:
                hits = self.es.search(
                    index=new,
                    preference=f"_shards:{shard}",
                    query={"range": {"_seq_no": {"lte": top}}},
                    sort=[{"_seq_no": "asc"}],
                    search_after=[after],
                    size=BATCH,
                    source=False,
                    version=True,
                    seq_no_primary_term=True,
                )["hits"]["hits"]
                if not hits:
                    break
                after = hits[-1]["_seq_no"]
                held = self.es.mget(
                    index=self.old, ids=[h["_id"] for h in hits], source=False, realtime=True
                )
                gone = {d["_id"] for d in held["docs"] if not d.get("found")}
                lines = [
                    ln
                    for h in hits
                    if h["_id"] in gone
                    for ln in plan.delete_lines(new, h["_id"], h["_version"])
                ]
                report.deleted += self._write(new, lines).done

    # -- the copying itself ---------------------------------------------------------------

    def _copy_pass(
        self, new: str, query: Mapping[str, Any], report: Report, *, refuse: bool = False
    ) -> int:
        """Copy the old index's documents matching ``query``; the number copied."""
        before = report.copied
        for hits in self._scan(self.old, query, source=True):
            outcome = self._copy(new, hits, report)
            if outcome.rejected and refuse:
                self.es.indices.delete(index=new)
                first_id, why = outcome.rejected[0]
                raise MigrationError(
                    f"the new mapping refuses {len(outcome.rejected)} of a batch of {len(hits)} "
                    f"documents of {self.old}, first {first_id}: {why}; aliases untouched, "
                    f"{new} deleted"
                )
        return report.copied - before

    def _write(self, new: str, lines: list[dict[str, Any]]) -> plan.Outcome:
        """Bulk ``lines``, retrying what Elasticsearch could not take now."""
        outcome = plan.Outcome()
        pending = lines
        for attempt in range(8):
            if not pending:
                return outcome
            items = self.es.bulk(
                operations=pending, filter_path="items.*.status,items.*.error,items.*._id"
            )["items"]
            step = plan.Outcome()
            step.add(items)
            outcome.done += step.done
            outcome.older += step.older
            outcome.rejected += step.rejected
            starts = _item_starts(pending)
            pending = [ln for p in step.retry for ln in pending[starts[p] : starts[p + 1]]]
            if pending:
                time.sleep(0.2 * 2**attempt)
        if pending:
            raise MigrationError(f"Elasticsearch kept refusing writes to {new}; run it again")
        return outcome

    def _copy(self, new: str, hits: list[dict[str, Any]], report: Report) -> plan.Outcome:
        outcome = self._write(new, [ln for h in hits for ln in plan.copy_lines(new, h)])
        report.copied += outcome.done
        report.newer_there += outcome.older
        report.refused += outcome.rejected
        return outcome

    def _scan(
        self, index: str, query: Mapping[str, Any], *, source: bool
    ) -> Iterator[list[dict[str, Any]]]:
        """The documents of ``index`` matching ``query`` in batches, from one point in time."""
        self.es.indices.refresh(index=index)
        pit = self.es.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"]
        after: list[Any] | None = None
        try:
            while True:
                found = self.es.search(
                    pit={"id": pit, "keep_alive": KEEP_ALIVE},
                    query=query,
                    sort=["_shard_doc"],
                    search_after=after,
                    size=BATCH,
                    source=source,
                    version=True,
                )
                pit = found.get("pit_id", pit)
                hits = found["hits"]["hits"]
                if not hits:
                    return
                yield hits
                after = hits[-1]["sort"]
        finally:
            self.es.options(ignore_status=404).close_point_in_time(id=pit)

    def _shard_stats(self, index: str) -> dict[str, dict[str, int]]:
        found = self.es.indices.stats(index=index, level="shards")["indices"][index]["shards"]
        return {
            shard: copy["seq_no"]
            for shard, copies in found.items()
            for copy in copies
            if copy["routing"]["primary"]
        }

    def _checkpoints(self, index: str) -> dict[str, int]:
        return {s: v["local_checkpoint"] for s, v in self._shard_stats(index).items()}

    def _max_seq_nos(self, index: str) -> dict[str, int]:
        return {s: v["max_seq_no"] for s, v in self._shard_stats(index).items()}


def _item_starts(lines: list[dict[str, Any]]) -> list[int]:
    """Where each bulk item starts in ``lines`` (a delete is one line, an index two), and the
    end."""
    starts, i = [], 0
    while i < len(lines):
        starts.append(i)
        i += 1 if "delete" in lines[i] else 2
    return [*starts, len(lines)]


def template_for(
    index: str, template: str, settings: ElasticSettings
) -> tuple[dict[str, Any], str | None]:
    """The new definition (the kind's shipped template, or a file of the same shape) and the
    kind's read alias ``index`` belongs to (None: no kind's)."""
    alias = next(
        (settings.alias(k) for k in kinds() if index.startswith(f"{settings.alias(k)}-")), None
    )
    if template == "current":
        if alias is None:
            raise MigrationError(f"{index} is no kind's index: name a template file")
        kind = next(k for k in kinds() if settings.alias(k) == alias)
        return template_body(TEMPLATE_DIR / f"{kind}.json", settings), alias
    path = Path(template)
    try:
        body = template_body(path, settings)
    except KeyError as exc:
        raise MigrationError(f"template {path}: no {exc} object") from None
    except (OSError, ValueError, TypeError) as exc:
        raise MigrationError(f"template {path}: {exc}") from None
    if not isinstance(body.get("mappings"), dict):
        raise MigrationError(f'template {path}: no "mappings" object')
    return body, alias


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    es = client(settings.elastic)
    try:
        if not es.indices.exists(index=args.index):
            raise MigrationError(f"no index {args.index}")
        if es.indices.exists_alias(name=args.index):  # migrated already, or named by mistake
            body: dict[str, Any] = {}
            alias = None
        else:
            body, alias = template_for(args.index, args.template, settings.elastic)
        report = Migration(
            es, args.index, body, alias, settle_s=args.settle, keep_old=args.keep_old
        ).run()
    except MigrationError as exc:
        print(f"ascolto: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


def register(isub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``ascolto indices migrate``, beside the other ``indices`` commands (services.indices)."""
    migrate = isub.add_parser(
        "migrate", help="re-create one index under a new mapping, swap its aliases, live"
    )
    migrate.add_argument("index", help="one concrete index, e.g. ascolto-contacts-2026.12-000001")
    migrate.add_argument(
        "--template",
        default="current",
        help="'current' (the kind's shipped template, the default) or a JSON file of that shape",
    )
    migrate.add_argument(
        "--keep-old", action="store_true", help="keep the old index (write-blocked, no aliases)"
    )
    migrate.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="seconds without writes to the old index, after the swap, before it is blocked",
    )
    migrate.set_defaults(func=_migrate)
