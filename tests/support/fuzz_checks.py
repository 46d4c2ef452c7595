"""A schemathesis check for tests/integration/test_ingest_fuzz.py, loaded by the schemathesis
CLI as its hooks file (named in the run's config), not imported by the tests.

``negative_data_rejection`` expects a request that breaks the schema to be refused with a
4xx. Ingest's partial mode (``?partial=true``) is documented to answer such a request 202
when the breakage is in its contacts: the invalid ones are listed as ``refused`` and not
published, the valid ones are. This check is schemathesis' own, except for that case; the
test checks separately that a refused contact never reaches Kafka.
"""

from __future__ import annotations

from typing import Any

import orjson
import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection


def _refused_in_partial_mode(response: schemathesis.Response, case: schemathesis.Case) -> bool:
    if response.status_code != 202 or (case.query or {}).get("partial") not in (True, "true"):
        return False
    try:
        answer: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    return isinstance(answer, dict) and bool(answer.get("refused"))


@schemathesis.check
def negative_data_refused_or_listed(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Schema-breaking data is refused (4xx), or in partial mode listed as refused (202)."""
    try:
        return negative_data_rejection(ctx, response, case)
    except AssertionError:
        if _refused_in_partial_mode(response, case):
            return None
        raise
