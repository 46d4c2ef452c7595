"""Two changes to faust's rebalance handling, so that no record is taken for processed unread.

**Resuming the flow empties the agents' buffers.** faust stops the flow into the agents'
buffers when a rebalance starts and empties them (their records belong to the old
assignment). After the new assignment it resumes twice: once to read the changelogs, then
again once it has sought the stream partitions back to their committed offsets. mode's
``FlowControlEvent.resume`` also empties every buffer, and between the two resumes the fetch
loop already hands over records of the new assignment and notes them as read. The second
resume throws them away and nothing reads them again: the partition's commit waits for ever
for offsets that never come. ``FlowControl`` resumes without emptying. The buffers are still
emptied where faust asks for it in so many words, when partitions are revoked; a record left
from an earlier assignment is skipped by faust's streams (its ``generation_id`` is old).

**A hole in the offsets counts as processed.** When a fetched record is not the one after
the last read, faust marks the offsets in between as a gap, done. In a compacted topic those
records are gone. In ``contacts.raw`` and ``contacts.keyed`` (not compacted, no
transactions) they can only be gone if retention deleted them: otherwise the fetch skipped
them. That happens when a fetch answered before the seek above arrives after it: the records
it skipped were handed over before the seek and were being processed; marked done, a commit
could pass them before they were. For those topics a gap is marked only for the records that
no longer exist.

Found by looping the two-worker crash test (tests/integration/test_stream_core.py): with the
direct delivery (streams.faust_delivery), 5 of 26 runs lost 6 to 146 of a brand's 939 contacts.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

import faust
import faust.transport.consumer as consumer_module
from faust.types import TP
from mode.utils.queues import FlowControlEvent

log = logging.getLogger(__name__)


class FlowControl(FlowControlEvent):
    """mode's flow control, except that resuming leaves the buffers as they are."""

    def resume(self) -> None:
        self._suspend.clear()
        self._resume.set()


def vanished_gap(offset_from: int, offset_to: int, earliest: int) -> tuple[int, int] | None:
    """The part of the gap ``offset_from..offset_to`` (``offset_to`` is the record fetched
    now) whose records retention deleted: those before the partition's earliest offset."""
    last_gone = min(offset_to, earliest) - 1
    return (offset_from, last_gone) if last_gone >= offset_from else None


_faust_add_gap = consumer_module.Consumer._add_gap


async def _add_gap(
    self: consumer_module.Consumer, tp: TP, offset_from: int, offset_to: int
) -> None:
    if tp.topic not in getattr(self.app, "gapless_topics", ()):
        await _faust_add_gap(self, tp, offset_from, offset_to)
        return
    try:
        earliest = (await self.earliest_offsets(tp)).get(tp, 0)
    except Exception:  # the fetch loop must not die here; marking nothing loses nothing
        log.exception("%s[%d]: earliest offset unknown", tp.topic, tp.partition)
        earliest = 0
    gone = vanished_gap(offset_from, offset_to, earliest)
    if gone:
        await _faust_add_gap(self, tp, *gone)
    if not gone or gone[1] < offset_to - 1:
        log.warning(
            "%s[%d]: fetched %d after %d; offsets %d-%d are still there, not marked done",
            tp.topic,
            tp.partition,
            offset_to,
            offset_from - 1,
            gone[1] + 1 if gone else offset_from,
            offset_to - 1,
        )


def install(app: faust.App, gapless_topics: Collection[str]) -> None:
    """Before the app starts: its flow control, and the topics that have no holes."""
    app.flow_control = FlowControl()  # its events find the running loop when first awaited
    app.gapless_topics = frozenset(gapless_topics)  # type: ignore[attr-defined]
    consumer_module.Consumer._add_gap = _add_gap  # type: ignore[method-assign]
