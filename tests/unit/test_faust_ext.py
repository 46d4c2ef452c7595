"""The worker's faust (streams.faust_ext) against plain faust: each override's test shows
what faust does and what the worker's subclass does instead. No broker: consumers are built
but never started, and the fetch loop runs on a stand-in consumer."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, TypeVar

import faust
import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.utils.queues import FlowControlEvent

from streams.faust_ext import (
    DirectDeliveryConsumer,
    FlowControl,
    GaplessConsumer,
    WorkerApp,
    vanished_gap,
)

BROKER = "kafka://127.0.0.1:9"  # nothing listens: nothing here connects
T = TypeVar("T")


def worker_app(**kwargs: Any) -> WorkerApp:
    return WorkerApp("faust-ext-test", broker=BROKER, **kwargs)


def in_loop(make: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(make())  # type: ignore[arg-type]


# --- the app's flow control ---------------------------------------------------------------


def buffered_after_resume(app: faust.App) -> int:
    """What the agents' buffer holds after recovery's second resume."""
    buffer = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
    app.flow_control.resume()  # the first resume of a recovery: reading changelogs
    buffer.put_nowait(1)  # records of the new assignment handed over meanwhile
    buffer.put_nowait(2)
    app.flow_control.resume()  # the second, after the seek to the committed offsets
    return buffer.qsize()


def test_resuming_keeps_the_buffers_as_they_are() -> None:
    assert isinstance(worker_app().flow_control, FlowControl)
    assert buffered_after_resume(worker_app()) == 2
    assert buffered_after_resume(faust.App("plain", broker=BROKER)) == 0  # faust's


def test_revoking_still_empties_the_buffers_and_suspends() -> None:
    app = worker_app()
    buffer = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
    app.flow_control.resume()
    buffer.put_nowait(1)
    app.flow_control.suspend()
    app.flow_control.clear()  # faust's _on_partitions_revoked
    assert buffer.qsize() == 0
    assert not app.flow_control.is_active()
    app.flow_control.resume()
    assert app.flow_control.is_active()


# --- gaps ------------------------------------------------------------------------------------


def test_vanished_gap_is_what_lies_before_the_earliest_offset() -> None:
    # fetched 200 after 99: 100-199 are missing
    assert vanished_gap(100, 200, earliest=0) is None  # all still there
    assert vanished_gap(100, 200, earliest=100) is None
    assert vanished_gap(100, 200, earliest=150) == (100, 149)  # retention took 100-149
    assert vanished_gap(100, 200, earliest=200) == (100, 199)
    assert vanished_gap(100, 200, earliest=500) == (100, 199)  # never the record fetched now


class KnownEarliest(GaplessConsumer):
    """The worker's consumer with the broker's answer for the earliest offset given."""

    earliest: int | None = 0

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        if self.earliest is None:
            raise TimeoutError("no broker")
        return {tp: self.earliest for tp in partitions}


async def _no_op(*args: Any) -> None:
    return None


def marked(consumer: FaustConsumer, tp: TP, offset_from: int, offset_to: int) -> list[tuple]:
    """The offsets marked done for a fetched ``offset_to`` when ``offset_from - 1`` was read."""
    consumer._gap.clear()
    asyncio.run(consumer._add_gap(tp, offset_from, offset_to))
    return sorted((i.begin, i.end - 1) for i in consumer._gap[tp])


def worker_consumer(earliest: int | None) -> KnownEarliest:
    async def make() -> KnownEarliest:
        app = worker_app(gapless_topics={"contacts.keyed"})
        consumer = KnownEarliest(
            app.transport,
            callback=_no_op,
            on_partitions_revoked=_no_op,
            on_partitions_assigned=_no_op,
        )
        consumer.earliest = earliest
        return consumer

    return in_loop(make)


KEYED = TP("contacts.keyed", 0)


def test_faust_marks_a_whole_hole_done_even_where_the_records_are_still_there() -> None:
    plain = in_loop(lambda: _consumer_of(faust.App("plain", broker=BROKER)))
    assert marked(plain, KEYED, 307, 564) == [(307, 564)]


def test_a_gap_in_a_gapless_topic_is_marked_only_where_retention_deleted(caplog: Any) -> None:
    assert marked(worker_consumer(earliest=0), KEYED, 307, 564) == []
    assert "offsets 307-563 are still there" in caplog.text
    assert marked(worker_consumer(earliest=400), KEYED, 307, 564) == [(307, 399)]
    # no answer from the broker: nothing is marked, and the fetch loop goes on
    assert marked(worker_consumer(earliest=None), KEYED, 307, 564) == []


def test_other_topics_keep_faust_gaps() -> None:
    customers = TP("customers", 0)  # compacted: holes are normal there
    assert marked(worker_consumer(earliest=0), customers, 307, 564) == [(307, 564)]


async def _consumer_of(app: faust.App) -> Any:
    return app.consumer


# --- the fetch wait --------------------------------------------------------------------------


def created_consumer(app: faust.App) -> Any:
    """The aiokafka consumer the app's consumer thread creates (never started)."""

    async def create() -> Any:
        consumer = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
        await consumer.stop()  # releases what the constructor took
        return consumer

    return asyncio.run(create())


def test_faust_alone_lets_the_broker_hold_a_fetch_for_one_and_a_half_seconds() -> None:
    # if an upgrade changes this, the module's account of why the override exists is stale
    assert created_consumer(faust.App("plain", broker=BROKER))._fetch_max_wait_ms == 1500


def test_the_worker_consumer_asks_for_the_configured_wait() -> None:
    assert created_consumer(worker_app(fetch_max_wait_ms=50))._fetch_max_wait_ms == 50
    assert created_consumer(worker_app(fetch_max_wait_ms=20))._fetch_max_wait_ms == 20


PLAIN = (str, int, float, bool, type(None))


def settings_of(consumer: Any) -> dict[str, Any]:
    """The plain values an aiokafka consumer and its client keep from their arguments; in
    a list, an object (each app's own partition assignor) counts by its type."""

    def plain(kept: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in kept.items() if isinstance(v, PLAIN)}
        for k, v in kept.items():
            if isinstance(v, list | tuple):
                values[k] = [x if isinstance(x, PLAIN) else type(x) for x in v]
        return values

    client = {f"client.{k}": v for k, v in plain(vars(consumer._client)).items()}
    return plain(vars(consumer)) | client


def test_the_copied_constructor_differs_from_faust_only_in_the_wait() -> None:
    """The worker's thread carries a copy of faust's method: any other difference means faust
    changed it and the copy must be taken again."""
    conf = {"broker_session_timeout": 10.0, "consumer_auto_offset_reset": "earliest"}
    ours = settings_of(created_consumer(worker_app(fetch_max_wait_ms=50, **conf)))
    faust_s = settings_of(created_consumer(faust.App("faust-ext-test", broker=BROKER, **conf)))
    differing = {k for k in ours.keys() | faust_s.keys() if ours.get(k) != faust_s.get(k)}
    assert differing == {"_fetch_max_wait_ms"}
    assert len(ours) > 20  # the comparison saw the consumer's settings


# --- the fetch loop --------------------------------------------------------------------------


class StandIn:
    """What faust's ``_drain_messages`` reads of its consumer."""

    consumer_stopped_errors = (RuntimeError,)

    def __init__(self, records: list[tuple[str, int]], flow_active: bool) -> None:
        self.records = records
        self.flow_active = flow_active
        self.delivered: list[tuple[int, bool]] = []  # (offset, in the loop's own task)
        self.loop_task: asyncio.Task[Any] | None = None
        self._stopped = asyncio.Event()
        self.suspend_flow = asyncio.Event()
        self.should_stop = False
        self._read_offset: dict[Any, int | None] = collections.defaultdict(lambda: None)
        self._commit_every = None
        self._n_acked = 0
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self.app = SimpleNamespace(
            topics=SimpleNamespace(acks_enabled_for=lambda t: True), consumer_generation_id=0
        )
        self.transport = SimpleNamespace(app=SimpleNamespace(should_stop=True))
        self.log = SimpleNamespace(dev=print, info=print, exception=print)

    async def callback(self, message: Any) -> None:
        self.delivered.append((message.offset, asyncio.current_task() is self.loop_task))

    async def getmany(self, timeout: float) -> Any:
        generation = self.app.consumer_generation_id
        for topic, offset in self.records:
            if self.app.consumer_generation_id != generation:
                break  # as faust's getmany: the rest of the batch belongs to the old one
            yield (topic, 0), SimpleNamespace(topic=topic, offset=offset, generation_id=generation)
        self._stopped.set()  # one batch, then the loop ends

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_first(self, *coros: Any) -> None:
        # as mode's Service.wait_first: every awaitable becomes a task of its own
        tasks = [
            asyncio.ensure_future(c if not isinstance(c, asyncio.Event) else c.wait())
            for c in coros
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()


async def drain(consumer: StandIn, loop_fn: Callable[..., Awaitable[None]]) -> None:
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    consumer.loop_task = asyncio.ensure_future(loop_fn(consumer, fetcher))
    await consumer.loop_task


DIRECT = DirectDeliveryConsumer._drain_messages
FAUST = FaustConsumer._drain_messages
RECORDS = [("contacts.raw", 0), ("contacts.keyed", 0), ("contacts.raw", 1), ("contacts.raw", 2)]


def delivered(loop_fn: Callable[..., Awaitable[None]], flow_active: bool) -> list[tuple]:
    """(offset, handed over in the loop's own task) of each record, in order."""
    consumer = StandIn(RECORDS, flow_active)
    asyncio.run(drain(consumer, loop_fn))
    return consumer.delivered


IN_TASKS_OF_THEIR_OWN = [(0, False), (0, False), (1, False), (2, False)]


def test_faust_own_loop_hands_each_record_to_a_task_of_its_own() -> None:
    assert delivered(FAUST, flow_active=True) == IN_TASKS_OF_THEIR_OWN


def test_with_the_flow_active_records_are_delivered_in_order_within_the_loop() -> None:
    assert delivered(DIRECT, flow_active=True) == [(0, True), (0, True), (1, True), (2, True)]


def test_with_the_flow_stopped_the_loop_races_the_callback_as_faust_does() -> None:
    assert delivered(DIRECT, flow_active=False) == IN_TASKS_OF_THEIR_OWN
    assert delivered(FAUST, flow_active=False) == IN_TASKS_OF_THEIR_OWN


def test_the_setting_chooses_the_loop_and_both_keep_the_worker_gaps() -> None:
    direct = in_loop(lambda: _consumer_of(worker_app(direct_delivery=True)))
    own = in_loop(lambda: _consumer_of(worker_app(direct_delivery=False)))
    assert type(direct)._drain_messages is DIRECT
    assert type(own)._drain_messages is FAUST  # ASCOLTO_DIRECT_DELIVERY=false: faust's loop
    assert isinstance(direct, GaplessConsumer) and isinstance(own, GaplessConsumer)
    assert not isinstance(own, DirectDeliveryConsumer)
    assert isinstance(direct, faust_aiokafka.Consumer)


RAW = ("contacts.raw", 0)


def rebalance(consumer: StandIn, flow: FlowControlEvent, seek_to: int | None = None) -> None:
    """What a rebalance does around the loop, in faust's order: the flow stops and the
    agents' buffers are emptied (App._on_partitions_revoked); a new generation is assigned,
    its partitions are sought to their committed offsets, and the flow resumes."""
    consumer.flow_active = False
    consumer.suspend_flow.set()
    flow.suspend()
    flow.clear()
    consumer._read_offset.clear()
    consumer.app.consumer_generation_id += 1
    if seek_to is not None:
        consumer._read_offset[RAW] = seek_to
    flow.resume()
    consumer.flow_active = True
    consumer.suspend_flow.clear()


async def finishes(loop: asyncio.Future[Any], within_s: float = 1.0) -> bool:
    """Whether the loop ends by itself (``wait_for`` would not do: cancelled, faust's loop
    returns normally when its app is stopping, as the stand-in's is)."""
    done, _ = await asyncio.wait({loop}, timeout=within_s)
    if not done:
        loop.cancel()
    return bool(done)


def full_buffer() -> tuple[FlowControlEvent, Any]:
    """An agent's buffer as faust makes it (``App.FlowControlQueue``), full."""
    app = worker_app()
    buffer = app.FlowControlQueue(maxsize=1, clear_on_resume=True)
    app.flow_control.resume()
    buffer.put_nowait("earlier")
    return app.flow_control, buffer


async def conductor_put(buffer: Any, item: Any) -> None:
    """As faust's conductor hands a record to a full buffer: a put in a task of its own."""
    await asyncio.wait([asyncio.ensure_future(buffer.put(item))])


def test_a_rebalance_while_the_loop_waits_on_a_full_buffer_does_not_stall_it() -> None:
    async def scenario() -> StandIn:
        flow, buffer = full_buffer()
        consumer = StandIn([("contacts.raw", 5), ("contacts.raw", 6)], flow_active=True)

        async def deliver(message: Any) -> None:
            await conductor_put(buffer, message.offset)

        consumer.callback = deliver  # type: ignore[method-assign]
        loop = asyncio.ensure_future(drain(consumer, DIRECT))
        await asyncio.sleep(0.01)
        assert not loop.done()  # waiting for room
        rebalance(consumer, flow, seek_to=2)
        assert await finishes(loop)
        return consumer

    consumer = asyncio.run(scenario())
    assert consumer._read_offset[RAW] == 2  # the new assignment's, untouched


def test_a_record_delivered_across_a_rebalance_leaves_the_read_offset_alone() -> None:
    """Had the loop recorded offset 5, the new assignment's records 2-4 would be dropped as
    already read."""

    async def scenario() -> StandIn:
        flow = FlowControl(initially_suspended=False)
        ebb = asyncio.Event()  # as the conductor waiting for the producer to ebb
        consumer = StandIn([("contacts.raw", 5), ("contacts.raw", 6)], flow_active=True)
        delivered: list[int] = []

        async def deliver(message: Any) -> None:
            await ebb.wait()
            delivered.append(message.offset)

        consumer.callback = deliver  # type: ignore[method-assign]
        loop = asyncio.ensure_future(drain(consumer, DIRECT))
        await asyncio.sleep(0.01)
        rebalance(consumer, flow, seek_to=2)
        ebb.set()
        assert await finishes(loop)
        assert delivered == [5]  # the rest of the old batch is not handed over
        return consumer

    consumer = asyncio.run(scenario())
    assert consumer._read_offset[RAW] == 2


@pytest.mark.parametrize("make_app", [worker_app, lambda: faust.App("plain", broker=BROKER)])
def test_emptying_faust_buffers_ends_a_put_waiting_for_room(make_app: Any) -> None:
    """Why mode's ``FlowControlQueue.clear`` needs no change: faust's buffers are mode's
    ``ThrowableQueue``, whose ``clear`` cancels the puts waiting for room."""

    async def scenario() -> bool:
        app = make_app()
        buffer = app.FlowControlQueue(maxsize=1, clear_on_resume=True)
        app.flow_control.resume()
        buffer.put_nowait("earlier")
        put = asyncio.ensure_future(conductor_put(buffer, "waiting"))
        await asyncio.sleep(0.01)
        assert not put.done()
        app.flow_control.clear()
        await asyncio.sleep(0.01)
        return put.done()

    assert asyncio.run(scenario())
