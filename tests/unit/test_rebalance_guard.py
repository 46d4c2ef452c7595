"""faust's rebalance handling with streams.rebalance_guard: resuming the flow keeps what the
agents' buffers hold, and in a topic without holes only records that retention deleted are
marked done as a gap (faust's own gap code, on a stand-in consumer)."""

import asyncio
import collections
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from intervaltree import IntervalTree
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from streams import rebalance_guard
from streams.rebalance_guard import FlowControl, vanished_gap


def buffered_after_resume(flow: FlowControlEvent) -> int:
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()  # the first resume of a recovery: reading changelogs
    queue.put_nowait(1)  # records of the new assignment handed over meanwhile
    queue.put_nowait(2)
    flow.resume()  # the second, after the seek to the committed offsets
    return queue.qsize()


def test_resuming_keeps_the_buffers_as_they_are() -> None:
    assert buffered_after_resume(FlowControl()) == 2
    assert buffered_after_resume(FlowControlEvent()) == 0  # what faust's mode does


def test_revoking_still_empties_the_buffers_and_suspends() -> None:
    flow = FlowControl()
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    flow.resume()
    queue.put_nowait(1)
    flow.suspend()
    flow.clear()  # faust's _on_partitions_revoked
    assert queue.qsize() == 0
    assert not flow.is_active()
    flow.resume()
    assert flow.is_active()


def test_vanished_gap_is_what_lies_before_the_earliest_offset() -> None:
    # fetched 200 after 99: 100-199 are missing
    assert vanished_gap(100, 200, earliest=0) is None  # all still there
    assert vanished_gap(100, 200, earliest=100) is None
    assert vanished_gap(100, 200, earliest=150) == (100, 149)  # retention took 100-149
    assert vanished_gap(100, 200, earliest=200) == (100, 199)
    assert vanished_gap(100, 200, earliest=500) == (100, 199)  # never the record fetched now


class Consumer:
    """What faust's ``Consumer._add_gap`` reads of its consumer."""

    def __init__(self, earliest: int | None, gapless: set[str]) -> None:
        self.app = SimpleNamespace(gapless_topics=frozenset(gapless))
        self._committed_offset: dict[TP, int | None] = collections.defaultdict(lambda: None)
        self._gap: dict[TP, IntervalTree] = collections.defaultdict(IntervalTree)
        self.earliest = earliest

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        if self.earliest is None:
            raise TimeoutError("no broker")
        return {tp: self.earliest for tp in partitions}


def marked(consumer: Consumer, tp: TP, offset_from: int, offset_to: int) -> list[tuple[int, int]]:
    """The offsets marked done for a fetched ``offset_to`` when ``offset_from - 1`` was read."""
    asyncio.run(rebalance_guard._add_gap(consumer, tp, offset_from, offset_to))  # type: ignore[arg-type]
    return sorted((i.begin, i.end - 1) for i in consumer._gap[tp])


def test_a_gap_in_a_gapless_topic_is_marked_only_where_retention_deleted(caplog: Any) -> None:
    keyed = TP("contacts.keyed", 0)
    assert marked(Consumer(earliest=0, gapless={"contacts.keyed"}), keyed, 307, 564) == []
    assert "offsets 307-563 are still there" in caplog.text
    assert marked(Consumer(earliest=400, gapless={"contacts.keyed"}), keyed, 307, 564) == [
        (307, 399)
    ]
    # no answer from the broker: nothing is marked, and the fetch loop goes on
    assert marked(Consumer(earliest=None, gapless={"contacts.keyed"}), keyed, 307, 564) == []


def test_other_topics_keep_faust_gaps() -> None:
    customers = TP("customers", 0)  # compacted: holes are normal there
    consumer = Consumer(earliest=0, gapless={"contacts.keyed"})
    assert marked(consumer, customers, 307, 564) == [(307, 564)]  # faust's, fetched record too
