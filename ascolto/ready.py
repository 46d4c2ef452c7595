"""Readiness probes used by deploy/stack.sh: ``python -m ascolto.ready kafka|elasticsearch|...``.

Exit status 0 when the component answers a real request, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
import urllib.request

from ascolto.clients import kafka_options
from ascolto.config import Settings


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return resp.read()


def kafka(settings: Settings) -> bool:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        **kafka_options(settings.kafka), request_timeout_ms=3000, client_id="ready"
    )
    try:
        admin.list_topics()
        return True
    finally:
        admin.close()


def elasticsearch(settings: Settings) -> bool:
    health = json.loads(_get(f"{settings.elastic.url}/_cluster/health"))
    return health.get("status") in ("green", "yellow")


def prometheus(settings: Settings) -> bool:
    return _get(f"{settings.prometheus_url}/-/ready") is not None


def _ready(host: str, port: int) -> bool:
    """The process's /readyz (streams.health): its checks pass; a 503 raises."""
    return json.loads(_get(f"http://{host}:{port}/readyz"))["ready"] is True


def ingest(settings: Settings) -> bool:
    return _ready(settings.ingest.host, settings.ingest.port)


def worker(settings: Settings) -> bool:
    return _ready(settings.worker.web_host, settings.worker.web_port)


def indexer(settings: Settings) -> bool:
    return _ready(settings.worker.web_host, settings.worker.indexer_web_port)


PROBES = {f.__name__: f for f in (kafka, elasticsearch, prometheus, ingest, worker, indexer)}

if __name__ == "__main__":
    try:
        ok = PROBES[sys.argv[1]](Settings.from_env())
    except Exception:
        ok = False
    sys.exit(0 if ok else 1)
