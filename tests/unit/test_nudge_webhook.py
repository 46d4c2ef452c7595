"""The nudger's webhook calls (services/nudges.py ``Webhook``) against a loopback HTTP server
answering a script of statuses: 2xx delivered, 429 and 5xx retried with backoff, another 4xx
refused at once, and never the URL in a log line or an error."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import CollectorRegistry

from ascolto.secret import Secret
from services.nudges import RETRY_DELAYS_S, NudgerMetrics, Undelivered, Webhook

TOKEN = "T0/B0/s3cret"


class Script:
    """Answers each POST with the next (status, headers) of its script, then 200."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.bodies: list[dict] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                script.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                status, headers = script.answers.pop(0) if script.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = Secret(f"http://127.0.0.1:{self.server.server_address[1]}/services/{TOKEN}")


@pytest.fixture
def script() -> Iterator[Script]:
    s = Script()
    yield s
    s.server.shutdown()
    s.server.server_close()


class Calls:
    def __init__(self, brands: tuple[str, ...] = ()) -> None:
        self.slept: list[float] = []
        self.registry = CollectorRegistry()
        self.webhook = Webhook(NudgerMetrics(self.registry, brands), sleep=self.slept.append)

    def retries(self, brand: str = "Acme") -> float | None:
        return self.registry.get_sample_value(
            "ascolto_nudge_webhook_retries_total", {"brand": brand}
        )

    def refusals(self, brand: str = "Acme") -> float | None:
        return self.registry.get_sample_value(
            "ascolto_nudge_webhook_refusals_total", {"brand": brand}
        )


def test_a_2xx_is_delivered_at_once(script: Script) -> None:
    calls = Calls()
    assert calls.webhook.deliver(script.url, {"text": "At risk"}, "Acme") is True
    assert script.bodies == [{"text": "At risk"}] and calls.slept == []


def test_429_and_5xx_are_retried_with_backoff_and_retry_after(script: Script) -> None:
    script.answers = [(503, {}), (429, {"Retry-After": "3"}), (502, {})]
    calls = Calls()
    assert calls.webhook.deliver(script.url, {"text": "Late"}, "Acme") is True
    assert calls.slept == [RETRY_DELAYS_S[0], 3.0, RETRY_DELAYS_S[2]]
    assert len(script.bodies) == 4 and calls.retries() == 3


def test_another_4xx_is_refused_without_a_retry_and_logged_without_the_url(
    script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    script.answers = [(404, {})]
    calls = Calls()
    with caplog.at_level(logging.INFO):
        assert calls.webhook.deliver(script.url, {"text": "Late"}, "Acme") is False
    assert len(script.bodies) == 1 and calls.slept == []
    assert calls.refusals() == 1 and calls.retries() is None
    assert "Acme: the webhook refused a nudge: HTTP 404" in caplog.text
    assert TOKEN not in caplog.text


def test_a_webhook_that_keeps_failing_is_undelivered_after_every_retry(
    script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    script.answers = [(500, {})] * (len(RETRY_DELAYS_S) + 1)
    calls = Calls()
    with (
        caplog.at_level(logging.INFO),
        pytest.raises(Undelivered, match="Acme: .* 6 times") as raised,
    ):
        calls.webhook.deliver(script.url, {"text": "Late"}, "Acme")
    assert calls.slept == list(RETRY_DELAYS_S)
    assert TOKEN not in str(raised.value) and TOKEN not in caplog.text


def test_each_configured_brand_is_counted_from_zero_and_apart(script: Script) -> None:
    """A brand's series exists before its first refusal, so the alert on its increase
    (NudgesRefused) sees the first one; another brand's calls do not count for it."""
    script.answers = [(403, {}), (503, {})]
    calls = Calls(brands=("Acme", "Globex"))
    assert (calls.refusals("Globex"), calls.retries("Globex")) == (0, 0)
    assert calls.webhook.deliver(script.url, {"text": "Late"}, "Acme") is False
    assert calls.webhook.deliver(script.url, {"text": "Late"}, "Acme") is True
    assert (calls.refusals(), calls.retries()) == (1, 1)
    assert (calls.refusals("Globex"), calls.retries("Globex")) == (0, 0)


def test_no_answer_is_retried_too(script: Script) -> None:
    closed = Secret(script.url.reveal().replace(str(script.server.server_address[1]), "1"))
    calls = Calls()
    with pytest.raises(Undelivered, match="no answer") as raised:
        calls.webhook.deliver(closed, {"text": "Late"}, "Acme")
    assert calls.slept == list(RETRY_DELAYS_S) and TOKEN not in str(raised.value)
