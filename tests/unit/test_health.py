"""Readiness logic (streams.health, services.ingest.health) without faust or a broker: each
check failing alone flips readiness, and the body and the gauge name it."""

from __future__ import annotations

import asyncio
import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import AuthorizationException
from prometheus_client import CollectorRegistry, Gauge

from ascolto.config import Settings
from services.ingest import app as ingest
from services.ingest import health as ingest_health
from services.ingest.health import ACK_FRESH_S, ROUND_TRIP_EVERY_S, IngestKafka
from streams.health import (
    Cached,
    FaustProbes,
    Membership,
    Readiness,
    Verdict,
    http_routes,
    worker_checks,
)
from tests.support.ingest_keys import TestKeys, bearer

IN_GROUP = Membership(coordinator=True, member=True, generation=3, reassigning=False, partitions=4)
WORKER_CHECKS = ("kafka", "assignment", "recovery", "elasticsearch")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeGroup:
    def __init__(self, membership: Membership | None = IN_GROUP, recovering: bool = False):
        self._membership, self._recovering = membership, recovering

    def membership(self) -> Membership | None:
        return self._membership

    def recovering(self) -> bool:
        return self._recovering


class FakeElastic:
    """The calls the elasticsearch check makes: options(...).cluster.health()."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error, self.calls = error, 0
        self.options_seen: dict[str, Any] = {}
        self.cluster = self

    def options(self, **kwargs: Any) -> FakeElastic:
        self.options_seen = kwargs
        return self

    async def health(self) -> dict[str, Any]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return {"status": "green"}


def gauge() -> tuple[CollectorRegistry, Gauge]:
    registry = CollectorRegistry()
    return registry, Gauge("ascolto_ready", "ready", ["check"], registry=registry)


def ready_values(registry: CollectorRegistry, names: tuple[str, ...]) -> dict[str, float | None]:
    return {n: registry.get_sample_value("ascolto_ready", {"check": n}) for n in names}


def api_error(cls: type[Exception], status: int) -> Exception:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "es", 9200))
    return cls(message="refused", meta=meta, body={})  # type: ignore[call-arg]


def worker_report(group: FakeGroup, es: FakeElastic) -> tuple[Any, CollectorRegistry]:
    registry, ready = gauge()
    readiness = Readiness(worker_checks(group, es), ready)  # type: ignore[arg-type]
    return asyncio.run(readiness.evaluate()), registry


BROKEN = {
    "kafka": (FakeGroup(dataclasses.replace(IN_GROUP, coordinator=False)), FakeElastic()),
    "assignment": (FakeGroup(dataclasses.replace(IN_GROUP, reassigning=True)), FakeElastic()),
    "recovery": (FakeGroup(recovering=True), FakeElastic()),
    "elasticsearch": (FakeGroup(), FakeElastic(ConnectionError("Connection refused"))),
}


@pytest.mark.parametrize("failing", WORKER_CHECKS)
def test_each_worker_check_failing_alone_makes_it_not_ready_and_is_named(failing: str) -> None:
    report, registry = worker_report(*BROKEN[failing])
    body = report.body()
    assert report.status == 503 and body["ready"] is False
    assert body["checks"] == {name: name != failing for name in WORKER_CHECKS}
    assert list(body["failing"]) == [failing] and body["failing"][failing]
    assert ready_values(registry, WORKER_CHECKS) == {
        name: 0.0 if name == failing else 1.0 for name in WORKER_CHECKS
    }


def test_a_worker_with_every_check_passing_is_ready() -> None:
    report, registry = worker_report(FakeGroup(), FakeElastic())
    assert report.status == 200
    assert report.body() == {"ready": True, "checks": dict.fromkeys(WORKER_CHECKS, True)}
    assert set(ready_values(registry, WORKER_CHECKS).values()) == {1.0}


def test_a_worker_holding_no_partition_is_ready() -> None:
    idle = FakeGroup(dataclasses.replace(IN_GROUP, partitions=0))
    assert worker_report(idle, FakeElastic())[0].ready


def test_before_the_consumer_started_and_before_the_first_assignment_it_is_not_ready() -> None:
    report, _ = worker_report(FakeGroup(None), FakeElastic())
    assert report.body()["checks"]["kafka"] is False
    assert report.body()["checks"]["assignment"] is False
    joining = FakeGroup(dataclasses.replace(IN_GROUP, generation=-1, reassigning=True))
    checks = worker_report(joining, FakeElastic())[0].body()["checks"]
    assert checks["kafka"] is True and checks["assignment"] is False


def test_elasticsearch_refusing_the_monitor_privilege_still_counts_as_reachable() -> None:
    assert worker_report(FakeGroup(), FakeElastic(api_error(AuthorizationException, 403)))[0].ready


def test_the_gauge_says_not_ready_before_the_first_evaluation() -> None:
    registry, ready = gauge()
    Readiness(worker_checks(FakeGroup(), FakeElastic()), ready)  # type: ignore[arg-type]
    assert set(ready_values(registry, WORKER_CHECKS).values()) == {0.0}


def test_elasticsearch_is_pinged_at_most_every_few_seconds_with_a_timeout() -> None:
    es = FakeElastic()
    check = worker_checks(FakeGroup(), es)["elasticsearch"]  # type: ignore[arg-type]

    async def probes() -> None:
        for _ in range(5):
            assert (await check()).ok

    asyncio.run(probes())
    assert es.calls == 1
    assert es.options_seen["max_retries"] == 0 and es.options_seen["request_timeout"] <= 5


def test_cached_runs_again_once_its_verdict_is_old_and_shares_a_run_in_flight() -> None:
    clock, runs = Clock(), []

    async def probe() -> Verdict:
        runs.append(clock.now)
        await asyncio.sleep(0.01)
        return Verdict(len(runs) % 2 == 1, f"run {len(runs)}")

    cached = Cached(probe, every_s=5, timeout_s=1, clock=clock)

    async def scenario() -> list[Verdict]:
        together = await asyncio.gather(cached(), cached(), cached())
        clock.now += 4.9
        cached_one = await cached()
        clock.now += 0.2
        return [*together, cached_one, await cached()]

    verdicts = asyncio.run(scenario())
    assert runs == [1000.0, 1005.1]
    assert verdicts == [Verdict(True, "run 1")] * 4 + [Verdict(False, "run 2")]


def test_cached_turns_a_timeout_or_an_error_into_a_failing_verdict_naming_it() -> None:
    async def hangs() -> Verdict:
        await asyncio.sleep(60)
        return Verdict(True)

    async def raises() -> Verdict:
        raise OSError("connection refused")

    hung = asyncio.run(Cached(hangs, every_s=5, timeout_s=0.05)())
    assert hung == Verdict(False, "no answer within 0.05 s")
    failed = asyncio.run(Cached(raises, every_s=5, timeout_s=1)())
    assert failed == Verdict(False, "OSError: connection refused")


def test_faust_probes_recover_until_the_first_recovery_and_during_rebalances() -> None:
    completed = asyncio.Event()
    recovery = SimpleNamespace(completed=completed, in_recovery=False)
    app = SimpleNamespace(tables=SimpleNamespace(recovery=recovery), rebalancing=False)
    probes = FaustProbes(app)
    assert probes.recovering()
    completed.set()
    assert not probes.recovering()
    recovery.in_recovery = True
    assert probes.recovering()
    recovery.in_recovery, app.rebalancing = False, True
    assert probes.recovering()


# --- ingest ---------------------------------------------------------------------------------


class FakePublisher:
    def __init__(self, round_trip_error: Exception | None = None) -> None:
        self.round_trip_error, self.round_trips, self.fail_publish = round_trip_error, 0, False

    async def metadata_round_trip(self) -> None:
        self.round_trips += 1
        if self.round_trip_error is not None:
            raise self.round_trip_error

    async def publish(self, contacts: list[dict[str, Any]]) -> None:
        if self.fail_publish:
            raise RuntimeError("NotEnoughReplicas")

    def close(self) -> None:
        pass


def no_connect() -> Any:
    raise AssertionError("the test hands the publisher in")


def test_ingest_is_not_ready_before_its_producer_connects() -> None:
    verdict = asyncio.run(IngestKafka(no_connect).check())
    assert not verdict.ok and "no connection to Kafka yet" in verdict.reason


def test_ingest_connects_again_and_again_until_kafka_answers(monkeypatch) -> None:
    monkeypatch.setattr(ingest_health, "backoff_s", lambda attempt: 0)
    attempts: list[int] = []
    publisher = FakePublisher()

    def connect() -> Any:
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError("Unable to bootstrap from 127.0.0.1:1")
        return publisher

    kafka = IngestKafka(connect)
    asyncio.run(kafka.connect())
    assert kafka.publisher is publisher and len(attempts) == 3


def test_a_fresh_acknowledgement_makes_ingest_ready_without_asking_kafka() -> None:
    clock, publisher = Clock(), FakePublisher(OSError("refused"))
    kafka = IngestKafka(no_connect, publisher, clock)  # type: ignore[arg-type]
    kafka.acknowledged()
    clock.now += ACK_FRESH_S - 0.1
    assert asyncio.run(kafka.check()).ok and publisher.round_trips == 0
    clock.now += 0.2
    verdict = asyncio.run(kafka.check())
    assert verdict == Verdict(False, "OSError: refused") and publisher.round_trips == 1


def test_a_failed_produce_makes_ingest_not_ready_until_a_round_trip_succeeds() -> None:
    clock, publisher = Clock(), FakePublisher()
    kafka = IngestKafka(no_connect, publisher, clock)  # type: ignore[arg-type]
    assert asyncio.run(kafka.check()).ok and publisher.round_trips == 1
    kafka.acknowledged()
    kafka.failed("KafkaTimeoutError")
    verdict = asyncio.run(kafka.check())
    assert not verdict.ok and "KafkaTimeoutError" in verdict.reason
    clock.now += ROUND_TRIP_EVERY_S
    assert asyncio.run(kafka.check()).ok and publisher.round_trips == 2


def ingest_answers(publisher: FakePublisher, *requests: tuple[str, str]) -> list[Any]:
    keys = TestKeys()
    _, token = keys.add()

    async def run() -> list[Any]:
        auth = keys.authenticator()
        app = ingest.create_app(Settings(), publisher=publisher, auth=auth)  # type: ignore[arg-type]
        answers = []
        async with TestClient(TestServer(app)) as http:
            for method, path in requests:
                body = {"source": "t", "source_id": "1", "channel": "social",
                        "direction": "inbound", "brand": "acme", "customer_handle": "@jane",
                        "occurred_at": "2025-11-23T10:00:00Z", "body": "hi"}  # fmt: skip
                answer = await http.request(method, path, json=body, headers=bearer(token))
                answers.append((answer.status, await answer.text()))
        return answers

    return asyncio.run(run())


def test_ingest_readyz_names_kafka_and_the_gauge_agrees() -> None:
    publisher = FakePublisher(OSError("connection refused"))
    [(live, _), (status, body), (_, metrics)] = ingest_answers(
        publisher, ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")
    )
    assert live == 200 and status == 503
    assert '"kafka": false' in body and "connection refused" in body
    assert 'ascolto_ready{check="kafka"} 0.0' in metrics


def test_ingest_is_ready_after_an_acknowledged_post_and_not_after_a_failed_one() -> None:
    publisher = FakePublisher(OSError("unreachable"))
    answers = ingest_answers(publisher, ("POST", "/v1/contacts"), ("GET", "/readyz"))
    assert [status for status, _ in answers] == [202, 200] and publisher.round_trips == 0
    publisher.fail_publish = True
    answers = ingest_answers(publisher, ("POST", "/v1/contacts"), ("GET", "/readyz"))
    assert [status for status, _ in answers] == [503, 503]
    assert "NotEnoughReplicas" in answers[1][1]


def test_http_routes_answer_liveness_readiness_and_metrics() -> None:
    registry, ready = gauge()

    async def fails() -> Verdict:
        return Verdict(False, "why")

    async def run() -> list[tuple[int, str]]:
        app = web.Application()
        app.add_routes(http_routes(registry, Readiness({"kafka": fails}, ready)))
        async with TestClient(TestServer(app)) as http:
            return [
                ((r := await http.get(path)).status, await r.text())
                for path in ("/healthz", "/readyz")
            ]

    [(live, live_body), (status, body)] = asyncio.run(run())
    assert (live, live_body) == (200, '{"ok": true}')
    assert status == 503 and '"failing": {"kafka": "why"}' in body
