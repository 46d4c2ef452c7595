"""Elasticsearch setup: composable index templates and versioned indices behind aliases.

Readers and writers only ever use the alias (``ascolto-contacts``); the concrete index
(``ascolto-contacts-v1``) can be rebuilt and swapped behind it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ascolto.config import ElasticSettings
from schemas import SCHEMA_DIR

TEMPLATE_DIR = SCHEMA_DIR / "index-templates"  # package data: installed with the package
INDEX_VERSION = "v1"


def client(settings: ElasticSettings) -> Elasticsearch:
    return Elasticsearch(settings.url, request_timeout=30, max_retries=3, retry_on_timeout=True)


def _template(path: Path, refresh_interval: str) -> dict[str, Any]:
    body = json.loads(path.read_text())
    body.pop("_comment", None)
    body["settings"]["refresh_interval"] = refresh_interval
    return body


def index_names(settings: ElasticSettings) -> dict[str, str]:
    """Alias -> concrete index for every template shipped."""
    return {
        settings.alias(p.stem): f"{settings.alias(p.stem)}-{INDEX_VERSION}"
        for p in sorted(TEMPLATE_DIR.glob("*.json"))
    }


def setup_indices(settings: ElasticSettings, es: Elasticsearch | None = None) -> list[str]:
    """Install the templates and create each index with its alias; return indices created.

    An index that exists already gets the template's fields added to its mapping: the
    mappings are strict, so a field added in a release would otherwise refuse every document
    written to an index made by the one before. A field whose type changed is refused by
    Elasticsearch here, at setup, with its reason (that takes a new index version)."""
    es = es or client(settings)
    created = []
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        alias = settings.alias(path.stem)
        template = _template(path, settings.refresh_interval)
        es.indices.put_index_template(
            name=alias, index_patterns=[f"{alias}-*"], template=template, priority=100
        )
        index = f"{alias}-{INDEX_VERSION}"
        if es.indices.exists(index=index):
            es.indices.put_mapping(index=index, properties=template["mappings"]["properties"])
        else:
            es.indices.create(index=index, aliases={alias: {"is_write_index": True}})
            created.append(index)
    es.cluster.health(wait_for_status="yellow", timeout="30s")
    return created


def delete_indices(settings: ElasticSettings, es: Elasticsearch | None = None) -> None:
    """Remove everything setup_indices made for this prefix (tests use their own prefixes)."""
    es = (es or client(settings)).options(ignore_status=404)
    for alias, index in index_names(settings).items():
        es.indices.delete(index=index)
        es.indices.delete_index_template(name=alias)
