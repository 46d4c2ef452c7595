"""``ascolto lag-exporter``: every consumer group's lag, as the broker sees it, for Prometheus.

The series keep the names and labels of danielqsj/kafka_exporter (not installable here), so
its dashboards and the usual alerts read them as they are:

    kafka_consumergroup_lag{consumergroup, topic, partition}   end offset - committed offset
    kafka_consumergroup_lag_sum{consumergroup, topic}

Unlike the worker's own ``ascolto_consumer_lag`` (what the live worker reports of its
assignment), this is read from the broker's committed offsets: it is there while no worker
runs, and for every group, downstream teams' consumers included.

A scrape costs three batched admin calls whatever the number of groups: ListGroups (one per
broker), OffsetFetch (one per group coordinator, all groups at once) and ListOffsets (one per
partition leader). It connects as every Ascolto client does (ascolto/clients.py), so the
secured listeners work with the same settings.
"""

from __future__ import annotations

import argparse
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ascolto.clients import kafka_options
from ascolto.config import KafkaSettings, Settings

NO_COMMIT = -1


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    lag: int


def lags(
    committed: Mapping[str, Mapping[TopicPartition, int]], ends: Mapping[TopicPartition, int]
) -> list[PartitionLag]:
    """Each group's lag on each partition it has committed on. A committed offset past the end
    (the topic was truncated or re-created) counts as no lag, not a negative one."""
    return [
        PartitionLag(group, tp.topic, tp.partition, max(ends[tp] - offset, 0))
        for group, offsets in sorted(committed.items())
        for tp, offset in sorted(offsets.items())
        if offset != NO_COMMIT and tp in ends
    ]


def lag_sums(rows: list[PartitionLag]) -> dict[tuple[str, str], int]:
    """(group, topic) -> the lag over its partitions."""
    sums: dict[tuple[str, str], int] = {}
    for row in rows:
        sums[(row.group, row.topic)] = sums.get((row.group, row.topic), 0) + row.lag
    return sums


class ConsumerGroupLag(Collector):
    """A collector that asks the broker on each scrape. The admin client is kept between
    scrapes and rebuilt after an error; a failed scrape answers 500, so ``up`` is 0."""

    def __init__(self, kafka: KafkaSettings, group_filter: re.Pattern[str]) -> None:
        self._kafka = kafka
        self._filter = group_filter
        self._admin: KafkaAdminClient | None = None
        self._lock = threading.Lock()  # the HTTP server may scrape from two threads at once

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            rows = self._read()
        lag = GaugeMetricFamily(
            "kafka_consumergroup_lag",
            "Messages a consumer group has not committed yet, per partition.",
            labels=["consumergroup", "topic", "partition"],
        )
        for row in rows:
            lag.add_metric([row.group, row.topic, str(row.partition)], row.lag)
        total = GaugeMetricFamily(
            "kafka_consumergroup_lag_sum",
            "Messages a consumer group has not committed yet, over a topic's partitions.",
            labels=["consumergroup", "topic"],
        )
        for (group, topic), value in sorted(lag_sums(rows).items()):
            total.add_metric([group, topic], value)
        yield lag
        yield total

    def _read(self) -> list[PartitionLag]:
        try:
            admin = self._admin or self._connect()
            groups = [g["group_id"] for g in admin.list_groups()]
            wanted = [g for g in groups if self._filter.fullmatch(g)]
            if not wanted:
                return []
            fetched = admin.list_group_offsets(wanted)
            committed = {
                group: {tp: meta.offset for tp, meta in offsets.items()}
                for group, offsets in fetched.items()
            }
            partitions = {tp for offsets in committed.values() for tp in offsets}
            ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
        except KafkaError:
            self.close()
            raise
        return lags(committed, {tp: found.offset for tp, found in ends.items()})

    def _connect(self) -> KafkaAdminClient:
        self._admin = KafkaAdminClient(
            **kafka_options(self._kafka), client_id="ascolto-lag-exporter", request_timeout_ms=5000
        )
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


def serve(kafka: KafkaSettings, host: str, port: int, group_filter: re.Pattern[str]) -> None:
    """Answer /metrics on host:port until the process is stopped."""
    registry = CollectorRegistry()
    registry.register(ConsumerGroupLag(kafka, group_filter))
    start_http_server(port, addr=host, registry=registry)
    threading.Event().wait()


def _pattern(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a regular expression: {text!r} ({exc})") from None


def _run(settings: Settings, args: argparse.Namespace) -> int:
    serve(settings.kafka, args.host, args.port, args.group_filter)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "lag-exporter", help="serve every consumer group's lag on /metrics (kafka_exporter's names)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=19406, help="port to listen on")
    parser.add_argument(
        "--group-filter",
        type=_pattern,
        default=re.compile(".*"),
        help="only groups whose whole name matches this regular expression (default: all)",
    )
    parser.set_defaults(func=_run)
