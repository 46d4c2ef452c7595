"""The SLA policy reloaded by a running worker: a changed file applies to clocks started after
it, a running clock keeps its targets (after a restart too), an invalid file is refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ascolto.config import Settings
from ascolto.search import get_doc
from ascolto.validation import contact_id_for
from bench.worker_metrics import scrape, total
from services.client import post_contacts
from tests.support.stack import Pipeline, make_pipeline, teardown_pipeline
from tests.support.waiting import wait_until


def policy(first_response: str) -> str:
    return f"""
version: 1
rules:
  - name: default
    targets: {{first_response: {first_response}, next_response: 1h, resolution: 1h}}
"""


A, B = policy("4s"), policy("5m")


@pytest.fixture
def pipe(base_settings: Settings, tmp_path: Path):
    (tmp_path / "policy.yaml").write_text(A)
    env = {"ASCOLTO_SLA_POLICIES": str(tmp_path / "policy.yaml"),
           "ASCOLTO_SLA_POLICY_RELOAD_S": "0.5"}  # fmt: skip
    pipeline = make_pipeline(base_settings, tmp_path, env)
    try:
        yield pipeline
    finally:
        teardown_pipeline(pipeline)


def _post(pipe: Pipeline, source_id: str, handle: str, reply_to: str | None = None) -> str:
    post_contacts(pipe.ingest_url, [{
        "source": "reload", "source_id": source_id, "channel": "chat",
        "direction": "outbound" if reply_to else "inbound", "brand": "ReloadCo",
        "customer_handle": handle, "occurred_at": int(time.time() * 1000),
        "in_reply_to": reply_to, "conversation_ref": f"session-{handle}",
        "body": "Done, sorry for the wait." if reply_to else "my order never arrived",
    }])  # fmt: skip
    return contact_id_for("reload", source_id)


def _sla(pipe: Pipeline, contact_id: str) -> dict[str, Any]:
    pipe.es.indices.refresh(index=pipe.settings.elastic.contacts)
    doc = get_doc(pipe.es, pipe.settings.elastic.contacts, contact_id)
    return dict(doc.get("sla") or {}, answered=doc.get("answered_at") is not None) if doc else {}


def _until(pipe: Pipeline, contact_id: str, **want: Any) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        sla = _sla(pipe, contact_id)
        return sla if all(sla.get(k) == v for k, v in want.items()) else None

    return wait_until(reached, 60, lambda: f"{contact_id} {want}: {_sla(pipe, contact_id)}")


def _metric(pipe: Pipeline, name: str) -> float:
    return total(scrape(pipe.worker_metrics_url), name)


def test_a_changed_policy_applies_to_clocks_started_after_it(pipe: Pipeline) -> None:
    policy_file = Path(pipe.env["ASCOLTO_SLA_POLICIES"])
    first = _post(pipe, "first", "ann")
    _until(pipe, first, target_seconds=4)
    changed_at = time.time()
    policy_file.write_text(B)
    wait_until(
        lambda: _metric(pipe, "ascolto_sla_policy_since_seconds") >= changed_at, 20, "the reload"
    )
    second = _post(pipe, "second", "bob")
    _until(pipe, second, target_seconds=300, outcome="open")
    # the first clock, judged again at its deadline, after the change: still 4 s
    _until(pipe, first, target_seconds=4, outcome="breached")

    policy_file.write_text(policy("soon"))  # invalid: refused, B stays
    wait_until(lambda: _metric(pipe, "ascolto_sla_policy_refused_total") == 1, 20, "a refusal")
    assert "sla policy refused, the version in force stays:" in pipe.worker.tail(200)
    assert "invalid duration 'soon'" in pipe.worker.tail(200)
    third = _post(pipe, "third", "cat")
    _until(pipe, third, target_seconds=300)

    # a restart reads the versions back: answered now, the first clock is still judged
    # against 4 s (under B's 5 min it would be met), the second against 5 min
    pipe.restart_worker()
    _post(pipe, "first-reply", "ann", reply_to="first")
    _post(pipe, "second-reply", "bob", reply_to="second")
    _until(pipe, first, answered=True, outcome="breached", target_seconds=4)
    _until(pipe, second, answered=True, outcome="met", target_seconds=300)
