"""Thread stage: contacts.keyed -> contacts.enriched, conversations and sla.events.

A ThreadStage holds the worker's timelines: the changelog-backed table, the indexes beside it
(when each customer's SLA clocks next change, when their whole timeline outlives the
retention, when they were last stepped), the parsed-timeline cache and the lock every step
takes. The thread agent hands it batches; the due-clock timer (streams.stages.due_clocks) and
the expiry timer (streams.stages.expiry) step and drop timelines through it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka.partitioner import DefaultPartitioner
from faust.types import EventT

from schemas import Codec, DecodeError
from streams.metrics import WorkerMetrics, observe_waits
from streams.rules.threading import ThreadingParams
from streams.rules.threading_lateness import Horizon, TooLate, split_late
from streams.sinks.dead_letter import DeadLetter, DeadLetterSender
from streams.sinks.producer import Producer
from streams.sla.gauges import ConversationGauges
from streams.sla.policy import Policies
from streams.sla.wakeups import DueIndex, WakeIndex
from streams.sla.watermark import Watermark
from streams.stages import erasure, timeline
from streams.stages.publish import Outputs
from streams.stages.timeline import SlaContext, Threaded, TimelineState
from streams.stages.timeline_cache import TimelineCache

log = logging.getLogger("ascolto.worker")

# The thread agent and the due-clock timer let the other tasks (the route agent, the indexer,
# the producer's sender) run every YIELD_EVERY customers: a step can take milliseconds.
YIELD_EVERY = 50

Step = tuple[TimelineState, TimelineState, Threaded]  # the state before, after, what to send


class Table(Protocol):
    """The timelines table as the stage uses it: faust's Table (``data`` is its store alone,
    written without faust's changelog machinery), a dict-backed fake in unit tests."""

    @property
    def data(self) -> MutableMapping[bytes, bytes]: ...
    def get(self, key: bytes) -> bytes | None: ...
    def items(self) -> Iterable[tuple[bytes, bytes]]: ...
    def raw_update(self, items: Mapping[bytes, bytes]) -> None: ...
    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...


class Assignment(Protocol):
    """What the stage asks of the running worker about its partitions."""

    def settling(self) -> bool:
        """A rebalance, or the recovery after it, is under way: the table is not settled."""

    def partitions(self) -> Collection[int]:
        """The partitions of contacts.keyed this worker holds."""


def partition_of(key: bytes, partitions: int) -> int:
    """The partition a key's records go to: the producers' default partitioner (aiokafka's,
    murmur2 of the key), which places every record sent without a partition, the timelines'
    changelog records included (ThreadStage.keep)."""
    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))


def _contact(record: dict[str, Any]) -> dict[str, Any]:
    contact: dict[str, Any] = record["contact"]
    return contact


def group_by_key(
    items: Iterable[tuple[bytes, dict[str, Any]]],
) -> dict[bytes, list[dict[str, Any]]]:
    groups: dict[bytes, list[dict[str, Any]]] = {}
    for key, record in items:
        groups.setdefault(key, []).append(record)
    return groups


@dataclass(eq=False)
class ThreadStage:
    table: Table
    changelog: str  # the table's changelog topic
    producer: Producer
    outputs: Outputs
    codec: Codec
    dead_letters: DeadLetterSender
    metrics: WorkerMetrics
    params: ThreadingParams
    policy: Policies  # a Policy, or the worker's reloaded versions (streams.policy_reload)
    retention_ms: int
    partitions: int  # of contacts.keyed, which the changelog's follow
    assignment: Assignment
    watermark: Watermark
    cache: TimelineCache
    gauges: ConversationGauges
    clock: Callable[[], float] = time.time
    wake_index: WakeIndex = field(default_factory=WakeIndex)
    # customers by when their whole timeline outlives the retention
    expiry: DueIndex = field(default_factory=DueIndex)
    # customer -> when (wall clock) last stepped
    touched: dict[bytes, float] = field(default_factory=dict)
    # The thread agent and the due-clock timer both load a timeline, step it and write it back;
    # the timer awaits Kafka's acknowledgements in between. Without this lock the agent can
    # step the same customer meanwhile, and the timer's write then drops the agent's contacts.
    stepping: asyncio.Lock = field(default_factory=asyncio.Lock)
    # contacts the steps set aside as too late, until handle() dead-letters them
    late: list[tuple[dict[str, Any], TooLate]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.waited = self.metrics.stage_wait.labels("thread")

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def sla_context(self) -> SlaContext:
        return SlaContext(
            self.policy, self.watermark.lateness_ms, self.now_ms(), self.watermark.now()
        )

    def settling(self) -> bool:
        return self.assignment.settling()

    async def handle(self, events: Sequence[EventT]) -> None:
        """A batch of contacts.keyed: each customer's timeline stepped, its outputs sent."""
        started_ms = self.now_ms()
        self.late.clear()  # what a failed attempt at a batch set aside is set aside again
        items: list[tuple[bytes, dict[str, Any]]] = []
        dead: list[DeadLetter] = []
        # erase requests, each after the contacts that came before it: (how many, key, request)
        erasures: list[tuple[int, bytes, dict[str, Any]]] = []
        origin: dict[int, EventT] = {}  # id(record) -> its event, for a too-late dead letter
        for event in events:
            try:
                name, record = self.codec.decode_any(event.message.value)
                if name == "Erasure":
                    erasures.append((len(items), event.message.key or b"", record))
                    continue
                if name != "EnrichedContact":
                    raise DecodeError(f"expected an EnrichedContact message, got a {name}")
            except Exception as exc:
                dead.append(DeadLetter.of_event(event, "thread", "schema", str(exc)))
                continue
            self.watermark.observe(record["contact"])
            items.append((event.message.key or b"", record))
            origin[id(record)] = event
        observe_waits(self.waited, started_ms, (r["contact"]["received_at"] for _, r in items))
        sla = self.sla_context()
        async with self.stepping:
            done = 0
            for upto, key, request in [*erasures, (len(items), b"", None)]:
                groups = group_by_key(items[done:upto]).items()
                written = await self.step_and_publish(groups, sla, every=True)
                for written_key, new_state in written:
                    await self.keep(written_key, new_state)
                done = upto
                if request is not None:
                    await self.erase(key, request)
        await self.dead_letters.send(dead + self.too_late(origin))
        self.metrics.watermark_seconds.set(self.watermark.now() / 1000)

    async def step_and_publish(
        self, work: Iterable[tuple[bytes, list[dict[str, Any]]]], sla: SlaContext, every: bool
    ) -> list[tuple[bytes, TimelineState]]:
        """Step each customer, send what changed (``every``: also the outputs of an unchanged
        step) and return the timelines to write, once Kafka acknowledged every output. The
        outputs first: a timeline written before them and then replayed (a crash, a failed
        send) finds its contacts known and would not send its tombstones and retractions
        again. The caller holds the lock."""
        written: list[tuple[bytes, TimelineState]] = []
        pending: list[Awaitable[Any]] = []
        for i, (key, records) in enumerate(work, 1):
            state, new_state, out = self.step(key, records, sla)
            changed = new_state is not state
            if every or changed:
                pending += await self.outputs.publish(out)
            if changed:
                written.append((key, new_state))
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        await asyncio.gather(*pending)
        return written

    def step(self, key: bytes, records: list[dict[str, Any]], sla: SlaContext) -> Step:
        """One customer's step: derive, judge, and keep the table and indexes current."""
        state = self.cache.load(key, self.table.get(key))
        forgotten = state.sla.get("forgotten")
        horizon = Horizon.of(state.messages, forgotten, self.retention_ms, self.params)
        records, late = split_late(horizon, records, _contact)
        self.late += late
        new_state, out = timeline.thread_timeline(
            state, records, self.params, self.retention_ms, sla
        )
        self.wake_index.set(key, new_state.wake)
        self.expiry.set(key, new_state.expires_at(self.retention_ms))
        self.touched[key] = time.monotonic()
        self.gauges.update(key, new_state, sla)
        return state, new_state, out

    def too_late(self, origin: Mapping[int, EventT]) -> list[DeadLetter]:
        """The contacts the steps set aside, as dead letters naming their event time and their
        customer's horizon: reported, never counted as unanswered."""
        late, self.late = self.late, []
        return [
            DeadLetter.of_event(
                origin[id(record)],
                "thread",
                "too_late",
                why.reason,
                record["contact"]["contact_id"],
            )
            for record, why in late
        ]

    async def keep(self, key: bytes, state: TimelineState) -> None:
        """Write the table and its changelog. Not as ``timelines[key] = value``: faust sends
        that changelog record through its topic machinery, which cost the outputs 15-20 times
        the producer's own send (streams.stages.publish). The producer is the one faust
        flushes before it commits offsets; the partitioner picks the partition faust would."""
        state, value, trimmed = timeline.within_size(state, self.params)
        if trimmed:
            # the partition, not the key: an unknown customer's key is their handle or e-mail
            log.warning("a timeline on partition %d over %d bytes: %d oldest conversations "
                        "dropped", partition_of(key, self.partitions), timeline.MAX_STATE_BYTES,
                        trimmed)  # fmt: skip
            self.metrics.trimmed.inc(trimmed)
        self.table.raw_update({key: value})  # the store alone
        await self.producer.send(self.changelog, key, value, None, None, None)
        self.cache.keep(key, value, state)

    async def drop(self, key: bytes) -> Awaitable[Any]:
        """Delete a timeline from the store and its changelog, on keep()'s path: through
        faust's own buffer, its tombstone could land after a newer timeline keep() sent.
        Returns the tombstone's delivery future."""
        self.table.data.pop(key, None)
        sent = await self.producer.send(self.changelog, key, None, None, None, None)
        self.cache.forget(key)
        return sent

    async def erase(self, key: bytes, request: dict[str, Any]) -> None:
        """An erase request (streams.stages.erasure): a tombstone for everything published
        from the customer's timeline, acknowledged before the timeline goes (outputs before
        state, as a step), then the timeline, its changelog record and its place in every
        index beside the table, then the audit event. A repeat finds nothing left and says
        so (counts 0). The caller holds the lock."""
        state = self.cache.load(key, self.table.get(key))
        out = erasure.withdrawn(state, self.params)
        await asyncio.gather(*await self.outputs.publish(out))
        await asyncio.gather(await self.drop(key))
        self.wake_index.set(key, None)
        self.expiry.set(key, None)
        self.touched.pop(key, None)
        self.gauges.forget(key)
        audit = erasure.worker_audit(request, out, self.now_ms())
        await asyncio.gather(await self.outputs.publish_audit(request["request_id"], audit))

    def reindex(self) -> None:
        """Rebuild the in-memory indexes from the table after an assignment changed, keeping
        only the timelines of this worker's partitions. On a revocation faust's in-memory store
        forgets only the keys it restored from the changelog, not those this worker wrote. Left
        there, the timers would step other workers' customers and write to their changelog,
        where a later recovery would take a stale timeline for the latest."""
        # contacts.keyed's partitions, which the changelog's follow: the changelog can be
        # missing from an assignment (ascolto.topics.changelog_specs)
        mine = set(self.assignment.partitions())
        self.expiry.clear()
        self.touched.clear()
        wakes = []
        restored_at = time.monotonic()  # as if stepped now: they idle from here
        for key, value in list(self.table.items()):
            if partition_of(key, self.partitions) not in mine:
                del self.table.data[key]  # the store alone: the changelog is its owner's
                continue
            state = TimelineState.load(value)
            self.expiry.set(key, state.expires_at(self.retention_ms))
            self.touched[key] = restored_at
            wakes.append((key, state.wake))
        self.wake_index.rebuild(wakes)

    def rebalanced(self) -> None:
        """An assignment changed: the indexes are rebuilt on the due-clock timer's next tick."""
        self.wake_index.stale = True
        self.gauges.clear()
        self.cache.clear()

    async def guarded(self, tick: Callable[[], Awaitable[None]]) -> None:
        """faust runs a timer's body unguarded: an exception would stop the worker, and after
        a restart the same customers would be due again. The wakes and expiries the tick took
        out of the indexes are rebuilt from the table instead (reindex, next tick)."""
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sla: a timer's tick failed; its customers are judged again")
            self.metrics.batch_retries.labels("sla").inc()
            self.wake_index.stale = True
