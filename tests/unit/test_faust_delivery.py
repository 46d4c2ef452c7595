"""The fetch loop with one statement changed (streams.faust_delivery), run on a stand-in
consumer: records reach the callback in order, in the loop's own task while the flow is
active (no task per record), through faust's race when it is not."""

import asyncio
import collections
from types import SimpleNamespace
from typing import Any

import pytest

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
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda t: True))
        self.transport = SimpleNamespace(app=SimpleNamespace(should_stop=True))
        self.log = SimpleNamespace(dev=print, info=print, exception=print)

    async def callback(self, message: Any) -> None:
        self.delivered.append((message.offset, asyncio.current_task() is self.loop_task))

    async def getmany(self, timeout: float) -> Any:
        for topic, offset in self.records:
            yield (topic, 0), SimpleNamespace(topic=topic, offset=offset)
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
