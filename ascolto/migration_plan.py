"""What an index migration decides, without Elasticsearch (docs/index-migration.md): the new
index's name, the alias swap, whether a new definition changes anything, what a copy's bulk
items say, and which documents a pass copies or reconciles."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ascolto import lifecycle

RETRYABLE = frozenset({429, 500, 502, 503, 504})
# alias properties an `add` action takes, as the get-alias API names them
ALIAS_PROPERTIES = ("filter", "index_routing", "search_routing", "is_write_index", "is_hidden")
_VERSIONED = re.compile(r"(.*)-v(\d+)$")


def successor(index: str, existing: Iterable[str], alias: str | None) -> str:
    """The new index's name: the period's next generation for a lifecycle index (so
    ``maintain`` and the index stage know it), ``-v<n+1>`` for a ``-v<n>`` one, else
    ``<index>-v2``; never a name in ``existing``."""
    taken = set(existing) | {index}
    parsed = lifecycle.parse_index(alias, index) if alias else None
    if alias and parsed:
        return lifecycle.next_generation(alias, sorted(taken), parsed[0])
    m = _VERSIONED.fullmatch(index)
    stem, n = (m.group(1), int(m.group(2)) + 1) if m else (index, 2)
    while f"{stem}-v{n}" in taken:
        n += 1
    return f"{stem}-v{n}"


def swap_actions(old: str, new: str, aliases: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """One ``_aliases`` request moving every alias of ``old``, with its write flag, filter and
    routing, to ``new``: readers and writers see one index or the other, never both."""
    adds = [
        {"add": {"index": new, "alias": name, **_properties(props)}}
        for name, props in sorted(aliases.items())
    ]
    removes = [{"remove": {"index": old, "alias": name}} for name in sorted(aliases)]
    return adds + removes


def _properties(props: Mapping[str, Any]) -> dict[str, Any]:
    return {key: props[key] for key in ALIAS_PROPERTIES if key in props}


def retire_actions(old: str, new: str) -> list[dict]:
    """Delete ``old`` and make its name an alias of ``new``, atomically: a writer still holding
    the old concrete name (the index stage reads the aliases once per batch) then writes to
    the new index instead of making a new, unaliased ``old`` (auto-create)."""
    return [{"remove_index": {"index": old}}, {"add": {"index": new, "alias": old}}]


def definition(mappings: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a migration can change: the mapping (without ``_meta``), the analysis settings
    and the number of shards (neither of the last two changes on a live index)."""
    index = settings.get("index", {})
    return {
        "mappings": {k: v for k, v in mappings.items() if k != "_meta"},
        "analysis": index.get("analysis", {}),
        "shards": str(index.get("number_of_shards", "")),
    }


def seq_after(checkpoints: Mapping[str, int]) -> dict[str, Any]:
    """Documents written after the per-shard local checkpoints (a superset: the lowest bound
    of all shards, since a search cannot say per shard)."""
    return {"range": {"_seq_no": {"gt": min(checkpoints.values(), default=-1)}}}


def copy_lines(target: str, hit: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One document of the old index as a bulk item for the new one, at its own version,
    ``external_gte`` as the index stage writes (streams.sinks.elastic): a copy never
    overwrites a newer revision."""
    meta: dict[str, Any] = {
        "_index": target,
        "_id": hit["_id"],
        "version": hit["_version"],
        "version_type": "external_gte",
    }
    if "_routing" in hit:
        meta["routing"] = hit["_routing"]
    return [{"index": meta}, hit["_source"]]


def delete_lines(target: str, doc_id: str, version: int) -> list[dict[str, Any]]:
    """Delete the version of ``doc_id`` seen in the new index, and only that one or older."""
    meta = {"_index": target, "_id": doc_id, "version": version, "version_type": "external_gte"}
    return [{"delete": meta}]


@dataclass
class Outcome:
    """A pass's bulk results: done, refused as older than what is there (409), to retry, and
    refused for good (the new mapping cannot take the document)."""

    done: int = 0
    older: int = 0
    retry: list[int] = field(default_factory=list)  # positions in the request
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)

    def add(self, items: Iterable[Mapping[str, Any]]) -> None:
        for position, item in enumerate(items):
            result = next(iter(item.values()))
            status = result.get("status", 500)
            if status < 300 or (status == 404 and "delete" in item):
                self.done += 1
            elif status == 409:
                self.older += 1
            elif status in RETRYABLE:
                self.retry.append(position)
            else:
                self.rejected.append((result.get("_id", "?"), reason(result)))


def reason(result: Mapping[str, Any]) -> str:
    error = result.get("error") or {}
    if isinstance(error, Mapping):
        caused = error.get("caused_by") or {}
        why = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        if isinstance(caused, Mapping) and caused.get("reason"):
            why += f" ({caused['reason']})"
        return why[:300]
    return str(error)[:300]


def missing_or_older(
    old_versions: Mapping[str, int], new_docs: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Ids of the old index absent from the new one or there at an older version (an mget
    answer over the new index)."""
    have = {d["_id"]: d.get("_version", 0) for d in new_docs if d.get("found")}
    return [i for i, v in old_versions.items() if have.get(i, -1) < v]


def family(index: str, alias: str | None) -> str:
    """The pattern naming ``index`` and every name ``successor`` may give it."""
    if alias:
        return f"{alias}-*"
    m = _VERSIONED.fullmatch(index)
    return f"{m.group(1) if m else index}-v*"
