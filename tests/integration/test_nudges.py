"""``ascolto nudger`` on the real stack: live warnings and breaches reach each brand's own
webhook exactly once, a brand without one gets nothing, a quiet brand gets one digest, and
restarting the worker and the nudger (with a new consumer group, so every SLA event is read
again) sends nothing twice."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import OffsetSpec

from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.validation import contact_id_for
from services.client import post_contacts
from services.observe import read_topic
from tests.support import stack
from tests.support.waiting import wait_until

POLICY = {  # warned at 3 s, late at 6 s
    "version": 1,
    "warning_ratio": 0.5,
    "rules": [
        {
            "name": "nudges",
            "targets": {"first_response": "6s", "next_response": "6s", "resolution": "1h"},
        }
    ],
}
TOKEN = "s3cret-token"  # in every webhook URL: it must never reach the nudger's log
QUIET_FOR_S = 30  # Delta's quiet hours end this long after the nudger starts


class Receiver:
    """A Slack-compatible incoming webhook on a free port: keeps every JSON body it is sent;
    answers 503 to the first ``fail_first`` calls (the nudger must retry)."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict] = []
        self.calls = 0
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", stack.free_port()), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/{TOKEN}"

    def texts(self) -> list[str]:
        with self.lock:
            return [b["text"] for b in self.bodies]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.calls += 1
                    failing = receiver.calls <= receiver.fail_first
                    if not failing:
                        receiver.bodies.append(body)
                self.send_response(503 if failing else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@dataclass
class Setup:
    pipe: stack.Pipeline
    hooks: dict[str, Receiver]
    tmp: Path
    nudgers: list[stack.Proc] = field(default_factory=list)

    def nudger(self, group: str) -> stack.Proc:
        env = {
            **self.pipe.env,
            "ASCOLTO_NUDGER_GROUP": f"{self.pipe.settings.worker.app_id}-{group}",
        }
        proc = stack.local_proc(f"nudger-{group}", "nudger", env, self.tmp)
        self.nudgers.append(proc)
        proc.start()
        return proc


def _config(tmp: Path, hooks: dict[str, Receiver]) -> Path:
    now = datetime.now(UTC)
    quiet_from = datetime.fromtimestamp(now.timestamp() - 60, UTC)
    quiet_to = datetime.fromtimestamp(now.timestamp() + QUIET_FOR_S, UTC)
    brands: dict[str, dict[str, object]] = {}
    for brand, hook in hooks.items():
        (tmp / f"{brand}.url").write_text(hook.url + "\n")
        brands[brand] = {"webhook_url_file": f"{brand}.url"}
    brands["Delta"]["quiet_hours"] = {
        "time_zone": "UTC", "from": f"{quiet_from:%H:%M:%S}", "to": f"{quiet_to:%H:%M:%S}"
    }  # fmt: skip
    path = tmp / "nudges.yaml"
    path.write_text(json.dumps({"brands": brands}))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def setup(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("nudges")
    (tmp / "policy.yaml").write_text(json.dumps(POLICY))  # JSON is YAML
    hooks = {"Alfa": Receiver(), "Beta": Receiver(fail_first=1), "Delta": Receiver()}
    extra = {
        "ASCOLTO_SLA_POLICIES": str(tmp / "policy.yaml"),
        "ASCOLTO_CONVERSATION_URL": "https://help.example/c/{conversation_id}",
    }
    pipe = stack.make_pipeline(base_settings, tmp, extra)
    pipe.env["ASCOLTO_NUDGES"] = str(_config(tmp, hooks))
    try:
        yield (setup := Setup(pipe, hooks, tmp))
    finally:
        for proc in setup.nudgers:
            proc.stop()
        admin = KafkaAdminClient(**kafka_options(pipe.settings.kafka))
        try:
            admin.delete_groups([p.env["ASCOLTO_NUDGER_GROUP"] for p in setup.nudgers])
        finally:
            admin.close()
        stack.teardown_pipeline(pipe)
        for hook in hooks.values():
            hook.server.shutdown()


def _contact(source_id: str, brand: str, handle: str, at: int, parent: str | None = None) -> dict:
    return {
        "source": "nudges", "source_id": source_id, "channel": "chat",
        "direction": "outbound" if parent else "inbound", "brand": brand,
        "customer_handle": handle, "occurred_at": at, "in_reply_to": parent,
        "conversation_ref": f"chat-{handle}",
        "body": "Fixed, sorry." if parent else "my order never came",
    }  # fmt: skip


def _conversations(settings: Settings) -> dict[str, str]:
    """contact id -> conversation id, from the SLA events."""
    events = read_topic(settings, settings.kafka.sla_events)
    return {v["contact_id"]: v["conversation_id"] for _, v in events if v and v["contact_id"]}


def _caught_up(settings: Settings, group: str) -> bool:
    """The group has committed every SLA event there is."""
    admin = KafkaAdminClient(**kafka_options(settings.kafka))
    try:
        committed = admin.list_group_offsets([group]).get(group, {})
        topic = settings.kafka.sla_events
        tps = [tp for tp in committed if tp.topic == topic]
        ends = admin.list_partition_offsets(dict.fromkeys(tps, OffsetSpec.LATEST))
        return bool(tps) and all(committed[tp].offset >= ends[tp].offset for tp in tps)
    finally:
        admin.close()


def _counts(hooks: dict[str, Receiver]) -> dict[str, int]:
    return {brand: len(hook.texts()) for brand, hook in hooks.items()}


def test_each_warning_and_breach_once_to_its_brand_and_a_digest_after_quiet_hours(
    setup: Setup,
) -> None:
    pipe, hooks = setup.pipe, setup.hooks
    first = setup.nudger("first")
    t0 = int(time.time() * 1000)
    post_contacts(pipe.ingest_url, [
        _contact("ann-1", "Alfa", "ann", t0),  # unanswered: at risk, then late
        _contact("eve-1", "Alfa", "eve", t0),
        _contact("eve-2", "Alfa", "eve", t0 + 1000, "eve-1"),  # answered in time: nothing
        _contact("bob-1", "Beta", "bob", t0),
        _contact("gil-1", "Gamma", "gil", t0),  # no webhook for Gamma
        _contact("dan-1", "Delta", "dan", t0),  # quiet hours: held, then in the digest
        _contact("dot-1", "Delta", "dot", t0),
    ])  # fmt: skip
    time.sleep(
        max(0, t0 + 4500 - time.time() * 1000) / 1000
    )  # after dot's warning, before its deadline
    post_contacts(pipe.ingest_url, [_contact("dot-2", "Delta", "dot", t0 + 4000, "dot-1")])

    wait_until(lambda: _counts(hooks) == {"Alfa": 2, "Beta": 2, "Delta": 1}, 90,
               lambda: f"2, 2 and 1 nudges, got {_counts(hooks)}:\n{first.tail()}")  # fmt: skip
    conversations = _conversations(pipe.settings)
    ann, dan, dot = (
        conversations[contact_id_for("nudges", s)] for s in ("ann-1", "dan-1", "dot-1")
    )
    gil = conversations[contact_id_for("nudges", "gil-1")]  # judged, and not sent anywhere

    alfa = sorted(hooks["Alfa"].texts())
    assert (
        alfa[0].startswith("At risk, Alfa: chat conversation")
        and "first response due in" in alfa[0]
    )
    assert (
        alfa[1].startswith("Late, Alfa: chat conversation") and "first response late by" in alfa[1]
    )
    assert all(f"https://help.example/c/{ann}" in text for text in alfa)
    assert [t.split(",")[0] for t in sorted(hooks["Beta"].texts())] == ["At risk", "Late"]
    assert hooks["Beta"].calls == 3  # the first call answered 503 and was retried
    (digest,) = hooks["Delta"].texts()
    assert digest.startswith("Delta, while you were away: 1 late, 0 at risk.")
    assert f"/c/{dan}" in digest and f"/c/{dot}" not in digest  # dot was answered meanwhile
    everything = [t for hook in hooks.values() for t in hook.texts()]
    assert not any(gil in t or "Gamma" in t for t in everything)

    # everything again: the worker restarted, the nudger too, in a new group that reads every
    # SLA event from the start; the ledger is what stops a second nudge
    first.stop()
    pipe.restart_worker()
    second = setup.nudger("second")
    try:
        group = second.env["ASCOLTO_NUDGER_GROUP"]
        wait_until(lambda: _caught_up(pipe.settings, group), 60, second.tail)
        time.sleep(3)  # what the restarted worker republishes, if anything, comes meanwhile
        wait_until(lambda: _caught_up(pipe.settings, group), 30, second.tail)
        assert _counts(hooks) == {"Alfa": 2, "Beta": 2, "Delta": 1}
        assert hooks["Beta"].calls == 3
    finally:
        second.stop()
    logs = first.log.read_text() + second.log.read_text()
    assert TOKEN not in logs and "Traceback" not in logs
