"""Elasticsearch setup and upkeep: index templates, time-based indices behind aliases.

Readers use the read alias (``ascolto-contacts``), which names every concrete index of the
kind; the index stage writes to the concrete index of each document's event-time period
(ascolto.lifecycle, streams.sinks.placement). ``maintain`` makes the current and next
periods' indices, rolls a period's write index over by size and deletes the indices past
their retention (docs/index-lifecycle.md).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ascolto import lifecycle, sizing
from ascolto.clients import elasticsearch_options
from ascolto.config import ElasticSettings
from schemas import SCHEMA_DIR

log = logging.getLogger("ascolto.setup")

TEMPLATE_DIR = SCHEMA_DIR / "index-templates"  # package data: installed with the package


def client(settings: ElasticSettings) -> Elasticsearch:
    return Elasticsearch(
        **elasticsearch_options(settings), request_timeout=30, max_retries=3, retry_on_timeout=True
    )


def template_body(path: Path, settings: ElasticSettings) -> dict[str, Any]:
    """The template's mappings, with the shards, replicas and refresh of ``settings``."""
    body = json.loads(path.read_text())
    body.pop("_comment", None)
    body["settings"] |= {
        "number_of_shards": settings.shards,
        "number_of_replicas": settings.replicas,
        "refresh_interval": settings.refresh_interval,
    }
    return body


def kinds() -> list[str]:
    """Every kind shipped (its template's name): contacts, conversations, sla-events."""
    return [p.stem for p in sorted(TEMPLATE_DIR.glob("*.json"))]


def backing_indices(es: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    """Concrete index -> its aliases, for every index named for ``alias`` (in the read alias
    or not, e.g. a legacy ``-v1`` index)."""
    found = es.options(ignore_status=404).indices.get_alias(index=f"{alias}-*").body
    if "error" in found:  # none
        return {}
    return {index: value.get("aliases", {}) for index, value in found.items()}


def create_period_index(es: Elasticsearch, alias: str, label: str, generation: int = 1) -> str:
    """Create one period's index with its aliases; nothing if it exists already."""
    index = lifecycle.index_name(alias, label, generation)
    es.options(ignore_status=400).indices.create(
        index=index, aliases=lifecycle.creation_aliases(alias, label, write=generation == 1)
    )
    return index


def setup_indices(
    settings: ElasticSettings, es: Elasticsearch | None = None, now: datetime | None = None
) -> list[str]:
    """Install the templates and create each kind's current and next period index; return
    the indices created.

    Existing indices get the template's fields added to their mapping: the mappings are
    strict, so a field added in a release would otherwise refuse every document written to
    an index made by the one before. A field whose type changed is refused by Elasticsearch
    here, at setup, with its reason (that takes a new index). Existing indices also get the
    replicas asked (Elasticsearch changes them live); their shards stay (ascolto.sizing). A
    legacy ``<alias>-v1`` index stays readable through the read alias, no longer written."""
    es = es or client(settings)
    warnings = sizing.check_elastic(settings, es.cluster.health()["number_of_data_nodes"])
    created = []
    for kind in kinds():
        alias = settings.alias(kind)
        template = template_body(TEMPLATE_DIR / f"{kind}.json", settings)
        es.indices.put_index_template(
            name=alias, index_patterns=[f"{alias}-*"], template=template, priority=100
        )
        existing = backing_indices(es, alias)
        for index, aliases in existing.items():
            if alias not in aliases:  # retired (ascolto indices migrate --keep-old): as it was
                continue
            es.indices.put_mapping(index=index, properties=template["mappings"]["properties"])
            warnings += _keep_sizing(es, index, settings)
            if index == alias + lifecycle.LEGACY_SUFFIX and alias in aliases:
                # reads keep it; a write to the read alias must fail, not land here
                es.indices.put_alias(index=index, name=alias, is_write_index=False)
        created += _create_due(es, settings, kind, set(existing), now)
    for warning in warnings:
        log.warning("%s", warning)
    es.cluster.health(wait_for_status="yellow", timeout="30s")
    return created


def _create_due(
    es: Elasticsearch,
    settings: ElasticSettings,
    kind: str,
    existing: set[str],
    now: datetime | None,
) -> list[str]:
    alias = settings.alias(kind)
    period = settings.lifecycle.policy(kind).period
    labels = lifecycle.due_periods(now or datetime.now(UTC), period)
    have = {p[0] for i in existing if (p := lifecycle.parse_index(alias, i)) is not None}
    return [create_period_index(es, alias, label) for label in labels if label not in have]


def _keep_sizing(es: Elasticsearch, index: str, settings: ElasticSettings) -> list[str]:
    """Set the replicas asked on an existing index; warnings if its shards differ."""
    found = es.indices.get_settings(index=index, name="index.number_of_*")[index]["settings"]
    if int(found["index"]["number_of_replicas"]) != settings.replicas:
        es.indices.put_settings(index=index, settings={"number_of_replicas": settings.replicas})
    return sizing.check_index(settings, index, int(found["index"]["number_of_shards"]))


def delete_indices(settings: ElasticSettings, es: Elasticsearch | None = None) -> None:
    """Remove everything setup_indices made for this prefix (tests use their own prefixes)."""
    es = es or client(settings)
    for kind in kinds():
        alias = settings.alias(kind)
        indices = sorted(backing_indices(es, alias))
        # by name: a wildcard delete is refused (action.destructive_requires_name); in
        # chunks, as a request line is at most 4 KB (http.max_initial_line_length)
        for start in range(0, len(indices), 50):
            chunk = ",".join(indices[start : start + 50])
            es.options(ignore_status=404).indices.delete(index=chunk)
        es.options(ignore_status=404).indices.delete_index_template(name=alias)


def get_docs(es: Elasticsearch, alias: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """id -> document, for those of ``ids`` found behind a read alias. Realtime, as a GET
    (which an alias over several indices refuses): one mget over every index of the alias."""
    indices = [index for index, aliases in backing_indices(es, alias).items() if alias in aliases]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        docs = [
            {"_index": i, "_id": doc_id} for doc_id in ids[start : start + 500] for i in indices
        ]
        if docs:
            resp = es.mget(docs=docs, realtime=True)
            found |= {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}
    return found


def get_doc(es: Elasticsearch, alias: str, doc_id: str) -> dict[str, Any] | None:
    """The document ``doc_id`` behind a read alias, None if there is none."""
    return get_docs(es, alias, [doc_id]).get(doc_id)
