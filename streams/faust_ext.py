"""faust as the worker runs it: ``WorkerApp`` and the aiokafka transport it selects.

Written against faust-streaming 0.15.3, mode-streaming 0.7.1 and aiokafka 0.14.0 (pinned in
pyproject.toml). Each change is a subclass faust lets the app choose; none assigns to a
library class or module. Found by looping the two-worker crash test
(tests/integration/test_stream_core.py) and by the benchmark's stage waits:

- **Resuming the flow keeps the agents' buffers** (``FlowControl``, the app's
  ``flow_control``). After a rebalance faust resumes the flow twice: once to read the
  changelogs, again once the stream partitions are sought back to their committed offsets.
  mode's ``FlowControlEvent.resume`` empties every buffer, and between the two resumes the
  fetch loop already hands over records of the new assignment and notes them read: the
  second resume threw them away and the partition's commit waited for ever. The buffers are
  still emptied where faust asks for it in so many words, when partitions are revoked.
- **A hole in the offsets of a gapless topic is marked done only where retention deleted
  the records** (``GaplessConsumer._add_gap``). faust marks the offsets between the last
  record read and the one fetched as processed, as a compacted topic needs. In
  ``contacts.raw`` and ``contacts.keyed`` (not compacted, no transactions) such a hole means
  a fetch answered before a seek arrived after it: those records were handed over and were
  still being processed, and a commit could pass them. With direct delivery, 5 of 26 loops of
  the crash test lost 6 to 146 of a brand's 939 contacts before this.
- **The broker holds an empty fetch for the app's wait, not 1.5 s**
  (``WorkerConsumerThread``). aiokafka keeps one fetch in flight per broker, without the
  partitions whose records still wait to be consumed; while the stages work through
  ``contacts.raw`` and ``contacts.keyed`` that request can ask only for quiet topics, and no
  contact is fetched until it answers. At ~680 contacts/s the route stage got nothing for
  1-1.7 s every ~3 s, with the worker idle.
- **Records reach the agents without a task each** (``DirectDeliveryConsumer``, on unless
  ``ASCOLTO_DIRECT_DELIVERY=false``). faust's fetch loop races each record's hand-over
  against the flow's suspension: four tasks created and three cancelled per record, and two
  turns of the event loop, behind the stages' CPU work. Paced at ~700 contacts/s a contact
  took 0.7 s from Kafka to faust's hands. While the flow is active the loop awaits the
  hand-over itself. A record handed over across a rebalance carries the old
  ``generation_id``: faust's ``Stream`` skips it, and the loop does not note its offset as
  read (the new assignment has already sought to the committed offset). A rebalance that
  empties a full buffer cancels the conductor's put waiting for room (mode's
  ``ThrowableQueue.clear``), so the loop never waits on a buffer no one reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any, cast

import aiokafka
import faust
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from faust import transport as faust_transports
from faust.exceptions import ImproperlyConfigured
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.transports import TransportT
from mode import Service, ServiceT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

log = logging.getLogger(__name__)


class FlowControl(FlowControlEvent):
    """mode's flow control, except that resuming leaves the buffers as they are."""

    # faust-streaming/faust#253 ("when the app flow_control resumes it clears all queues")
    def resume(self) -> None:
        self._suspend.clear()
        self._resume.set()


def vanished_gap(offset_from: int, offset_to: int, earliest: int) -> tuple[int, int] | None:
    """The part of the gap ``offset_from..offset_to`` (``offset_to`` is the record fetched
    now) whose records retention deleted: those before the partition's earliest offset."""
    last_gone = min(offset_to, earliest) - 1
    return (offset_from, last_gone) if last_gone >= offset_from else None


class WorkerConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's aiokafka consumer thread; its consumer asks the broker for the app's fetch wait."""

    # No upstream issue: faust-streaming 0.15.3 writes fetch_max_wait_ms=1500 into this
    # method. Its body is copied from 0.15.3 with that one argument changed (and the
    # api_version argument of aiokafka < 0.13 left out).
    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        isolation_level: str = "read_uncommitted"
        conf = self.app.conf
        if self.consumer.in_transaction:
            isolation_level = "read_committed"
        has_changelog_tables = bool(self.app.tables.changelog_topics)
        self._assignor = (
            self.app.assignor
            if self.app.conf.table_standby_replicas > 0 or has_changelog_tables
            else RoundRobinPartitionAssignor
        )
        auth_settings = faust_aiokafka.credentials_to_aiokafka_auth(
            conf.broker_credentials, conf.ssl_context
        )
        max_poll_interval = conf.broker_max_poll_interval or 0
        request_timeout = conf.broker_request_timeout
        session_timeout = conf.broker_session_timeout
        rebalance_timeout = conf.broker_rebalance_timeout
        if session_timeout > request_timeout:
            raise ImproperlyConfigured(
                f"Setting broker_session_timeout={session_timeout} "
                f"cannot be greater than "
                f"broker_request_timeout={request_timeout}"
            )
        return aiokafka.AIOKafkaConsumer(
            client_id=conf.broker_client_id,
            group_id=conf.id,
            group_instance_id=conf.consumer_group_instance_id,
            bootstrap_servers=faust_aiokafka.server_list(transport.url, transport.default_port),
            partition_assignment_strategy=[self._assignor],
            enable_auto_commit=False,
            auto_offset_reset=conf.consumer_auto_offset_reset,
            max_poll_records=conf.broker_max_poll_records,
            max_poll_interval_ms=int(max_poll_interval * 1000.0),
            max_partition_fetch_bytes=conf.consumer_max_fetch_size,
            fetch_max_wait_ms=cast(WorkerApp, self.app).fetch_max_wait_ms,
            request_timeout_ms=int(request_timeout * 1000.0),
            check_crcs=conf.broker_check_crcs,
            session_timeout_ms=int(session_timeout * 1000.0),
            rebalance_timeout_ms=int(rebalance_timeout * 1000.0),
            heartbeat_interval_ms=int(conf.broker_heartbeat_interval * 1000.0),
            isolation_level=isolation_level,
            metadata_max_age_ms=conf.consumer_metadata_max_age_ms,
            connections_max_idle_ms=conf.consumer_connections_max_idle_ms,
            **auth_settings,
        )


class GaplessConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with the worker's thread and gap marking; faust's own loop."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return WorkerConsumerThread(self, loop=self.loop, beacon=self.beacon)

    # faust-streaming/faust#606 (gaps marked done in topics that are not compacted)
    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        if tp.topic not in cast(WorkerApp, self.app).gapless_topics:
            await super()._add_gap(tp, offset_from, offset_to)
            return
        try:
            earliest = (await self.earliest_offsets(tp)).get(tp, 0)
        except Exception:  # the fetch loop must not die here; marking nothing loses nothing
            log.exception("%s[%d]: earliest offset unknown", tp.topic, tp.partition)
            earliest = 0
        gone = vanished_gap(offset_from, offset_to, earliest)
        if gone:
            await super()._add_gap(tp, *gone)
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


class DirectDeliveryConsumer(GaplessConsumer):
    """``GaplessConsumer`` whose fetch loop hands records over in its own task."""

    # No upstream issue: corrects the per-record wait_first of faust-streaming 0.15.3's
    # Consumer._drain_messages, whose body is copied here with that one statement changed.
    async def _drain_messages(self, fetcher: ServiceT) -> None:
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            # the change: faust always awaits
                            # wait_first(callback(message), self.suspend_flow.wait())
                            if self.flow_active:
                                await callback(message)
                                if message.generation_id != self.app.consumer_generation_id:
                                    continue
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


class WorkerTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport, building ``GaplessConsumer``."""

    Consumer = GaplessConsumer


class DirectDeliveryTransport(WorkerTransport):
    """faust's aiokafka transport, building ``DirectDeliveryConsumer``."""

    Consumer = DirectDeliveryConsumer


class WorkerApp(faust.App):
    """faust's App with the worker's flow control and consumer transport."""

    def __init__(
        self,
        *args: Any,
        gapless_topics: Collection[str] = (),
        fetch_max_wait_ms: int = 50,
        direct_delivery: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.gapless_topics = frozenset(gapless_topics)
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.direct_delivery = direct_delivery

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return FlowControl()  # no loop: its events find the running one when first awaited

    def _new_transport(self) -> TransportT:
        url = self.conf.broker_consumer[0]
        if faust_transports.by_url(url) is not faust_aiokafka.Transport:
            raise ImproperlyConfigured(f"the worker extends faust's aiokafka transport: {url}")
        transport = DirectDeliveryTransport if self.direct_delivery else WorkerTransport
        return transport(self.conf.broker_consumer, self)
