"""Liveness and readiness of every Ascolto process: ``/healthz``, ``/readyz`` and the gauge
``ascolto_ready{check}`` (docs/deploying.md, "Health endpoints").

Liveness (``/healthz``) is answered by the process's event loop: an answer means the loop
runs. Readiness (``/readyz``) runs named checks, each an ``async () -> Verdict``; the process is
ready when all pass, and the body names each check's outcome and why a failing one failed.
Checks that do I/O are ``Cached``: one run at most every few seconds, bounded by a timeout,
so a probe or a scrape never queues requests on Kafka or Elasticsearch.

The Kafka checks read a consumer's place in its group (``Membership``) through the tiny
``GroupProbes`` protocol, so tests drive the logic without faust or a broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from elasticsearch import AuthorizationException
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer
    from elasticsearch import AsyncElasticsearch

# Elasticsearch is pinged at most this often, and a ping waits at most this long: a probe
# answers within the timeout (give the orchestrator's probe a longer one, docs/deploying.md).
ES_EVERY_S = 5.0
ES_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


Check = Callable[[], Awaitable[Verdict]]


class Cached:
    """A check that does I/O, run at most every ``every_s`` seconds and for at most
    ``timeout_s``; between runs it answers its last verdict, and callers arriving during a
    run share it. An exception or a timeout is a failing verdict naming it."""

    def __init__(
        self,
        probe: Check,
        every_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.probe, self.every_s, self.timeout_s, self.clock = probe, every_s, timeout_s, clock
        self._verdict: Verdict | None = None
        self._at = 0.0
        self._running: asyncio.Future[Verdict] | None = None

    async def __call__(self) -> Verdict:
        verdict = self._verdict
        if verdict is not None and self.clock() - self._at < self.every_s:
            return verdict
        if self._running is None:
            self._running = asyncio.ensure_future(self._run())
        return await asyncio.shield(self._running)

    def override(self, verdict: Verdict) -> None:
        """Take ``verdict`` as the last run's, e.g. a failure seen by the real traffic."""
        self._verdict, self._at = verdict, self.clock()

    async def _run(self) -> Verdict:
        try:
            verdict = await asyncio.wait_for(self.probe(), self.timeout_s)
        except TimeoutError:
            verdict = Verdict(False, f"no answer within {self.timeout_s:g} s")
        except Exception as exc:
            verdict = Verdict(False, f"{type(exc).__name__}: {exc}")
        finally:
            self._running = None
        self.override(verdict)
        return verdict


@dataclass(frozen=True)
class Report:
    verdicts: Mapping[str, Verdict]

    @property
    def ready(self) -> bool:
        return all(v.ok for v in self.verdicts.values())

    @property
    def status(self) -> int:
        return 200 if self.ready else 503

    def body(self) -> dict[str, Any]:
        failing = {name: v.reason for name, v in self.verdicts.items() if not v.ok}
        checks = {name: v.ok for name, v in self.verdicts.items()}
        return {"ready": self.ready, "checks": checks, **({"failing": failing} if failing else {})}


class Readiness:
    """The process's checks, run together; each run sets ``ascolto_ready{check}`` to 1 or 0."""

    def __init__(self, checks: Mapping[str, Check], gauge: Gauge) -> None:
        self.checks, self.gauge = dict(checks), gauge
        for name in self.checks:  # not ready until a check says otherwise
            gauge.labels(name).set(0)

    async def evaluate(self) -> Report:
        verdicts = await asyncio.gather(*(check() for check in self.checks.values()))
        report = Report(dict(zip(self.checks, verdicts, strict=True)))
        for name, verdict in report.verdicts.items():
            self.gauge.labels(name).set(1 if verdict.ok else 0)
        return report


# --- Kafka: a consumer's place in its group ----------------------------------------------


@dataclass(frozen=True)
class Membership:
    coordinator: bool  # the group's coordinator is known (its last request to it succeeded)
    member: bool  # the coordinator gave this consumer a member id
    generation: int  # the group generation whose assignment it holds; <= 0 before the first
    reassigning: bool  # a rebalance is under way: its partitions are not handed out yet
    partitions: int  # partitions assigned (0 is legitimate: more members than partitions)


class GroupProbes(Protocol):
    def membership(self) -> Membership | None:
        """None while the consumer has not started."""


class RecoveryProbes(GroupProbes, Protocol):
    def recovering(self) -> bool:
        """The tables are not recovered for the current assignment, or the streams not
        resumed after it (faust's "Worker ready" not reached)."""


def group_checks(probes: GroupProbes) -> dict[str, Check]:
    """``kafka``: a live membership of the consumer group. ``assignment``: partitions handed
    out for the current generation and no rebalance under way. Holding no partition (a group
    larger than the partition count) is ready: that worker is a warm spare, and a rollout or
    a disruption budget must be able to count it."""

    async def kafka() -> Verdict:
        m = probes.membership()
        if m is None:
            return Verdict(False, "the Kafka consumer has not started")
        if not m.coordinator:
            return Verdict(False, "no group coordinator reachable")
        if not m.member:
            return Verdict(False, "not a member of the consumer group")
        return Verdict(True)

    async def assignment() -> Verdict:
        m = probes.membership()
        if m is None or m.generation <= 0:
            return Verdict(False, "no partition assignment received yet")
        if m.reassigning:
            return Verdict(False, "the consumer group is rebalancing")
        return Verdict(True)

    return {"kafka": kafka, "assignment": assignment}


def worker_checks(probes: RecoveryProbes, es: AsyncElasticsearch) -> dict[str, Check]:
    async def recovery() -> Verdict:
        if probes.recovering():
            return Verdict(False, "recovering tables from their changelogs")
        return Verdict(True)

    return {**group_checks(probes), "recovery": recovery, "elasticsearch": elastic_check(es)}


def elastic_check(es: AsyncElasticsearch) -> Check:
    """Elasticsearch answers ``GET /_cluster/health`` of this client (its credentials
    included). A 403 is an answer: the cluster knows the key, which may lack the ``monitor``
    privilege the request needs while it holds what indexing needs. (Not ``GET /``: some
    distributions answer it 405, which the client counts against the node.)"""

    async def ping() -> Verdict:
        with contextlib.suppress(AuthorizationException):
            await es.options(request_timeout=ES_TIMEOUT_S, max_retries=0).cluster.health()
        return Verdict(True)

    return Cached(ping, ES_EVERY_S, ES_TIMEOUT_S)


def aiokafka_membership(consumer: AIOKafkaConsumer | None) -> Membership | None:
    """Read from aiokafka 0.14's group coordinator and subscription (no public API says
    whether the consumer is in its group); None before the consumer started."""
    coordinator = getattr(consumer, "_coordinator", None)
    if consumer is None or coordinator is None:
        return None
    subscription = consumer._subscription
    return Membership(
        coordinator=coordinator.coordinator_id is not None,
        member=bool(coordinator.member_id),
        generation=coordinator.generation,
        reassigning=subscription.reassignment_in_progress,
        partitions=len(subscription.assigned_partitions()),
    )


class FaustProbes:
    """RecoveryProbes of a running faust app (faust-streaming 0.15.3)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def membership(self) -> Membership | None:
        thread = getattr(self.app.consumer, "_thread", None)
        return aiokafka_membership(getattr(thread, "_consumer", None))

    def recovering(self) -> bool:
        # completed: set once the first recovery is done; rebalancing: from a revocation
        # until the streams resume ("Worker ready"), recovery included
        recovery = self.app.tables.recovery
        return bool(not recovery.completed.is_set() or recovery.in_recovery or self.app.rebalancing)


# --- the endpoints --------------------------------------------------------------------------


def live() -> dict[str, bool]:
    return {"ok": True}


def http_routes(registry: CollectorRegistry, readiness: Readiness) -> list[web.RouteDef]:
    """``/metrics``, ``/healthz`` and ``/readyz`` of an aiohttp process (ingest, indexer).
    A scrape runs the checks too, so the gauge is as fresh as the scrape."""

    async def metrics(request: web.Request) -> web.Response:
        await readiness.evaluate()
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(live())

    async def readyz(request: web.Request) -> web.Response:
        report = await readiness.evaluate()
        return web.json_response(report.body(), status=report.status)

    return [web.get("/metrics", metrics), web.get("/healthz", healthz), web.get("/readyz", readyz)]


async def start_http(routes: list[web.RouteDef], host: str, port: int) -> web.AppRunner:
    """Serve ``routes`` on the running loop until the runner's ``cleanup()``."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def faust_pages(app: Any, registry: CollectorRegistry, readiness: Readiness) -> None:
    """The same three endpoints on a faust app's web server."""

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        await readiness.evaluate()
        # aiohttp wants the charset apart from the content type
        return web.bytes(generate_latest(registry), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json(live())

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        report = await readiness.evaluate()
        return web.json(report.body(), status=report.status)
