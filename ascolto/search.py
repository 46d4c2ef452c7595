"""Elasticsearch setup: composable index templates and versioned indices behind aliases.

Readers and writers only ever use the alias (``ascolto-contacts``); the concrete index
(``ascolto-contacts-v1``) can be rebuilt and swapped behind it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ascolto import sizing
from ascolto.clients import elasticsearch_options
from ascolto.config import ElasticSettings
from schemas import SCHEMA_DIR

log = logging.getLogger("ascolto.setup")

TEMPLATE_DIR = SCHEMA_DIR / "index-templates"  # package data: installed with the package
INDEX_VERSION = "v1"


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
    Elasticsearch here, at setup, with its reason (that takes a new index version). An
    existing index also gets the replicas asked (Elasticsearch changes them live); its shards
    stay (ascolto.sizing)."""
    es = es or client(settings)
    warnings = sizing.check_elastic(settings, es.cluster.health()["number_of_data_nodes"])
    created = []
    for path in sorted(TEMPLATE_DIR.glob("*.json")):
        alias = settings.alias(path.stem)
        template = template_body(path, settings)
        es.indices.put_index_template(
            name=alias, index_patterns=[f"{alias}-*"], template=template, priority=100
        )
        index = f"{alias}-{INDEX_VERSION}"
        if es.indices.exists(index=index):
            es.indices.put_mapping(index=index, properties=template["mappings"]["properties"])
            warnings += _keep_sizing(es, index, settings)
        else:
            es.indices.create(index=index, aliases={alias: {"is_write_index": True}})
            created.append(index)
    for warning in warnings:
        log.warning("%s", warning)
    es.cluster.health(wait_for_status="yellow", timeout="30s")
    return created


def _keep_sizing(es: Elasticsearch, index: str, settings: ElasticSettings) -> list[str]:
    """Set the replicas asked on an existing index; warnings if its shards differ."""
    found = es.indices.get_settings(index=index, name="index.number_of_*")[index]["settings"]
    if int(found["index"]["number_of_replicas"]) != settings.replicas:
        es.indices.put_settings(index=index, settings={"number_of_replicas": settings.replicas})
    return sizing.check_index(settings, index, int(found["index"]["number_of_shards"]))


def delete_indices(settings: ElasticSettings, es: Elasticsearch | None = None) -> None:
    """Remove everything setup_indices made for this prefix (tests use their own prefixes)."""
    es = (es or client(settings)).options(ignore_status=404)
    for alias, index in index_names(settings).items():
        es.indices.delete(index=index)
        es.indices.delete_index_template(name=alias)
