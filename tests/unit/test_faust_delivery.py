"""The fetch loop with one statement changed (streams.faust_delivery), run on a stand-in
consumer: records reach the callback in order, in the loop's own task while the flow is
active (no task per record), through faust's race when it is not; a rebalance while the
loop waits on a callback neither stalls the loop nor moves its read offset."""

import asyncio
import collections
from types import SimpleNamespace
from typing import Any

import pytest
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams import faust_delivery


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


async def drain(consumer: StandIn) -> None:
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    loop_fn = faust_delivery.consumer_module.Consumer._drain_messages
    consumer.loop_task = asyncio.ensure_future(loop_fn(consumer, fetcher))
    await consumer.loop_task


@pytest.fixture
def direct():
    faust_delivery.enable()
    yield
    faust_delivery.disable()


RECORDS = [("contacts.raw", 0), ("contacts.keyed", 0), ("contacts.raw", 1), ("contacts.raw", 2)]


def test_with_the_flow_active_records_are_delivered_in_order_within_the_loop(direct) -> None:
    consumer = StandIn(RECORDS, flow_active=True)
    asyncio.run(drain(consumer))
    assert consumer.delivered == [(0, True), (0, True), (1, True), (2, True)]


def test_with_the_flow_stopped_the_loop_races_the_callback_as_faust_does(direct) -> None:
    consumer = StandIn(RECORDS, flow_active=False)
    asyncio.run(drain(consumer))
    assert [offset for offset, _ in consumer.delivered] == [0, 0, 1, 2]
    assert not any(own_task for _, own_task in consumer.delivered)


def test_faust_own_loop_hands_each_record_to_a_task_of_its_own() -> None:
    assert not faust_delivery.enabled()
    consumer = StandIn(RECORDS, flow_active=True)
    asyncio.run(drain(consumer))
    assert consumer.delivered and not any(own_task for _, own_task in consumer.delivered)


def test_enable_and_disable_swap_the_loop() -> None:
    faust_delivery.enable()
    try:
        assert faust_delivery.enabled()
        faust_delivery.enable()  # idempotent
        assert faust_delivery.enabled()
    finally:
        faust_delivery.disable()
    assert not faust_delivery.enabled()


def test_an_unknown_loop_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust_delivery, "RACED", "await something_else(message)")
    with pytest.raises(RuntimeError, match="review streams.faust_delivery"):
        faust_delivery.direct_source()


RAW = ("contacts.raw", 0)


def rebalance(consumer: StandIn, flow: FlowControlEvent, seek_to: int | None = None) -> None:
    """What a rebalance does around the loop, in faust's order: the flow stops and the
    agents' buffers are emptied (App._on_partitions_revoked); a new generation is assigned,
    its partitions are seeked to their committed offsets, and the flow resumes."""
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


def full_buffer() -> tuple[FlowControlEvent, FlowControlQueue[Any]]:
    flow = FlowControlEvent(initially_suspended=False)
    buffer: FlowControlQueue[Any] = FlowControlQueue(
        maxsize=1, flow_control=flow, clear_on_resume=True
    )
    buffer.put_nowait("earlier")
    return flow, buffer


def test_a_rebalance_while_the_loop_waits_on_a_full_buffer_does_not_stall_it(direct) -> None:
    async def scenario() -> StandIn:
        flow, buffer = full_buffer()
        consumer = StandIn([("contacts.raw", 5), ("contacts.raw", 6)], flow_active=True)

        async def deliver(message: Any) -> None:  # as faust's conductor with a full buffer
            await buffer.put(message.offset)

        consumer.callback = deliver  # type: ignore[method-assign]
        loop = asyncio.ensure_future(drain(consumer))
        await asyncio.sleep(0.01)
        assert not loop.done()  # waiting for room
        rebalance(consumer, flow, seek_to=2)
        assert await finishes(loop)
        return consumer

    consumer = asyncio.run(scenario())
    assert consumer._read_offset[RAW] == 2  # the new assignment's, untouched


def test_a_record_delivered_across_a_rebalance_leaves_the_read_offset_alone(direct) -> None:
    """Had the loop recorded offset 5, the new assignment's records 2-4 would be dropped as
    already read."""

    async def scenario() -> StandIn:
        flow = FlowControlEvent(initially_suspended=False)
        ebb = asyncio.Event()  # as the conductor waiting for the producer to ebb
        consumer = StandIn([("contacts.raw", 5), ("contacts.raw", 6)], flow_active=True)
        delivered: list[int] = []

        async def deliver(message: Any) -> None:
            await ebb.wait()
            delivered.append(message.offset)

        consumer.callback = deliver  # type: ignore[method-assign]
        loop = asyncio.ensure_future(drain(consumer))
        await asyncio.sleep(0.01)
        rebalance(consumer, flow, seek_to=2)
        ebb.set()
        assert await finishes(loop)
        assert delivered == [5]  # the rest of the old batch is not handed over
        return consumer

    consumer = asyncio.run(scenario())
    assert consumer._read_offset[RAW] == 2


async def put_done_after_clear() -> bool:
    """Whether a put waiting for room in a full buffer ends once the buffer is emptied."""
    flow, buffer = full_buffer()
    put = asyncio.ensure_future(buffer.put("waiting"))
    await asyncio.sleep(0.01)
    flow.clear()
    await asyncio.sleep(0.01)
    done = put.done() and buffer.get_nowait() == "waiting"
    put.cancel()
    return done


def test_emptying_a_full_buffer_wakes_the_put_waiting_for_room(direct) -> None:
    assert asyncio.run(put_done_after_clear())


def test_mode_own_clear_leaves_that_put_waiting() -> None:
    assert not faust_delivery.enabled()
    assert not asyncio.run(put_done_after_clear())
