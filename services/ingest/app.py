"""HTTP ingest: ``POST /v1/contacts`` takes one contact or a batch and publishes it to Kafka.

A batch is all-or-nothing by default: if any contact is invalid the answer is 422 with every
problem listed by position, and nothing is published. ``?partial=true`` publishes the valid
ones and lists the refused ones (importers use it, so one bad row does not hold back a file).

Every request needs an API key or a signature (services.ingest.auth, docs/ingest-api.md):
401, 403 (a contact outside the key's scope) and 429 (its rate) publish nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from ascolto.config import Settings
from ascolto.event_loop import use_event_loop
from ascolto.validation import InvalidContact, validate
from services.ingest import openapi
from services.ingest.auth.tls import server_context
from services.ingest.auth.verify import Authenticator, Refused
from services.ingest.health import IngestKafka
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import Publisher
from streams.health import Readiness, http_routes

log = logging.getLogger("ascolto.ingest")

# Waiting longer than this for Kafka's acknowledgement answers 503 (retry): the client
# (services.client) must not time out first, and kafka-python alone waits up to 120 s.
PUBLISH_WAIT_S = 30.0

KAFKA = web.AppKey("kafka", IngestKafka)
CONNECTING = web.AppKey("connecting", asyncio.Task[None])
METRICS = web.AppKey("metrics", IngestMetrics)
REGISTRY = web.AppKey("registry", CollectorRegistry)
SETTINGS = web.AppKey("settings", Settings)
AUTH = web.AppKey("auth", Authenticator)


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _refused(metrics: IngestMetrics, refused: Refused, contacts: int = 0) -> web.Response:
    metrics.refused_requests.labels(refused.metric).inc()
    if contacts:
        metrics.rejected.labels(refused.metric).inc(contacts)
    log.debug("refused a request (%d %s), key %s", refused.status, refused.metric,
              refused.key_id or "-")  # fmt: skip
    response = _error(refused.status, refused.reason, **refused.extra)
    response.headers.update(refused.headers)
    return response


async def post_contacts(request: web.Request) -> web.Response:
    started = time.perf_counter()
    metrics = request.app[METRICS]
    settings = request.app[SETTINGS]
    auth = request.app[AUTH]
    try:
        key = auth.bearer(request.headers)  # before the body is read: no key, no upload
        body = await request.read()
        key = key or auth.signed(request.headers, body)
    except Refused as refusal:
        return _refused(metrics, refusal)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        metrics.rejected.labels("malformed_json").inc()
        return _error(400, f"request body is not valid JSON: {exc}")
    partial = request.query.get("partial", "false")
    if partial not in ("true", "false"):  # not a typo read as false (docs/openapi.yaml)
        return _error(400, f"partial: must be true or false, got {partial[:40]!r}")

    if isinstance(payload, dict) and "contacts" in payload:
        if set(payload) != {"contacts"} or not isinstance(payload["contacts"], list):
            return _error(400, 'a batch is {"contacts": [...]}, with no other key')
        payload = payload["contacts"]
    items = payload if isinstance(payload, list) else [payload]
    metrics.received.inc(len(items))
    metrics.batch_size.observe(len(items))
    if not items:
        return _error(400, "no contacts in the request")
    if len(items) > settings.ingest.max_batch:
        metrics.rejected.labels("too_large").inc(len(items))
        return _error(413, f"at most {settings.ingest.max_batch} contacts per request")
    try:
        auth.check_scope(key, items)
        auth.check_rate(key, len(items))
    except Refused as refusal:
        return _refused(metrics, refusal, len(items))

    now_ms = int(time.time() * 1000)
    valid: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for position, raw in enumerate(items):
        if isinstance(raw, dict):
            raw.pop("received_at", None)  # ingest is the one that says when it received it
        try:
            valid.append(validate(raw, received_at=now_ms))
        except InvalidContact as exc:
            refused.append({"index": position, "errors": exc.errors})
    if refused:
        metrics.rejected.labels("invalid").inc(len(refused))
        if partial == "false":
            request_seconds = time.perf_counter() - started
            metrics.request_seconds.labels("invalid").observe(request_seconds)
            return _error(
                422,
                f"{len(refused)} of {len(items)} contacts are invalid; nothing was published",
                refused=refused,
            )

    kafka = request.app[KAFKA]
    if kafka.publisher is None:
        metrics.publish_errors.inc(len(valid))
        return _error(503, "not connected to Kafka yet, retry")
    try:
        await asyncio.wait_for(kafka.publisher.publish(valid), PUBLISH_WAIT_S)
    except Exception as exc:
        log.exception("publishing %d contacts failed", len(valid))
        metrics.publish_errors.inc(len(valid))
        metrics.request_seconds.labels("error").observe(time.perf_counter() - started)
        reason = str(exc) or f"{type(exc).__name__} after {PUBLISH_WAIT_S:.0f} s"
        kafka.failed(reason)
        return _error(503, f"Kafka did not acknowledge the contacts, retry: {reason}")
    kafka.acknowledged()
    for contact in valid:
        metrics.published.labels(contact["channel"]).inc()
    metrics.request_seconds.labels("accepted").observe(time.perf_counter() - started)
    return web.json_response(
        {"accepted": len(valid), "ids": [c["contact_id"] for c in valid], "refused": refused},
        status=202,
        dumps=_dumps,
    )


def create_app(
    settings: Settings, publisher: Publisher | None = None, auth: Authenticator | None = None
) -> web.Application:
    """The ingest app; ``auth`` from the settings' key store when not given (ConfigError,
    one line, when the store cannot be read)."""
    registry = CollectorRegistry()
    app = web.Application(
        client_max_size=settings.ingest.max_body_bytes, middlewares=[openapi.json_errors]
    )
    app[SETTINGS] = settings
    app[AUTH] = auth or Authenticator.from_settings(settings.ingest)
    app[REGISTRY] = registry
    app[METRICS] = metrics = IngestMetrics.create(registry)
    app[KAFKA] = kafka = IngestKafka(functools.partial(Publisher, settings.kafka), publisher)
    app.router.add_post("/v1/contacts", post_contacts)
    openapi.add_route(app)
    app.add_routes(http_routes(registry, Readiness({"kafka": kafka.check}, metrics.ready)))
    app.on_startup.append(start_connecting)
    app.on_cleanup.append(close_publisher)
    return app


async def start_connecting(app: web.Application) -> None:
    app[CONNECTING] = asyncio.create_task(app[KAFKA].connect())


async def close_publisher(app: web.Application) -> None:
    app[CONNECTING].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[CONNECTING]
    publisher = app[KAFKA].publisher
    if publisher is not None:
        await asyncio.get_running_loop().run_in_executor(None, publisher.close)


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka.cluster").setLevel(logging.WARNING)  # a line per /readyz when idle
    use_event_loop(settings.event_loop)
    tls = server_context(settings.ingest.auth)
    scheme = "https" if tls else "http"
    web.run_app(
        create_app(settings),
        host=settings.ingest.host,
        port=settings.ingest.port,
        ssl_context=tls,
        access_log=None,
        print=lambda *_: log.info("ingest listening on %s :%d", scheme, settings.ingest.port),
    )
