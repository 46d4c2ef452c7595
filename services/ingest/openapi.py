"""The ingest API's contract: ``openapi.yaml`` beside this module (package data, so an installed
wheel has it), served as ``GET /openapi.json``. ``docs/openapi.yaml`` is a copy of it that
tests/unit/test_openapi.py keeps equal, as it keeps the contact schema in step with
ascolto/validation.py; tests/integration/test_ingest_fuzz.py holds the service to it.

The document says every error body is ``{"error": "<reason>"}``: ``json_errors`` makes
aiohttp's own refusals (404, 405, 413 for a body over the limit) say it that way too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiohttp import web

# A wheel installs as plain files, so the document sits beside this module there too.
SPEC_FILE = Path(__file__).with_name("openapi.yaml")
PATH = "/openapi.json"


def spec_text() -> str:
    return SPEC_FILE.read_text(encoding="utf-8")


@cache
def spec() -> dict[str, Any]:
    """The document, parsed once."""
    loaded = yaml.safe_load(spec_text())
    if not isinstance(loaded, dict) or "openapi" not in loaded:
        raise RuntimeError(f"{SPEC_FILE} is not an OpenAPI document")
    return loaded


@cache
def _body() -> bytes:
    return orjson.dumps(spec())


async def serve_spec(_: web.Request) -> web.Response:
    return web.Response(body=_body(), content_type="application/json")


def add_route(app: web.Application) -> None:
    """``GET /openapi.json``, open like /healthz: the contract is no secret. The document is
    read here, so a broken one stops ingest at its start, not at the first request for it."""
    _body()
    app.router.add_get(PATH, serve_spec)


# headers of aiohttp's plain-text answer that do not fit the JSON one
_TEXT_HEADERS = frozenset({"Content-Type", "Content-Length"})


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k not in _TEXT_HEADERS}
        reason = exc.text or exc.reason
        return web.json_response({"error": reason}, status=exc.status, headers=headers)
