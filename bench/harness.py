"""Isolated deployments on the shared stack, and cheap looks at Kafka offsets.

A benchmark pipeline is a test pipeline (tests/support/stack.py: its own topic prefix,
index prefix, consumer group and free ports) whose worker starts only when asked, so a stage
can be measured from a pre-filled topic. Names start with ``bench`` to tell them apart.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from ascolto.clients import kafka_options
from ascolto.config import ElasticSettings, KafkaSettings, Settings
from ascolto.search import client, setup_indices
from ascolto.topics import ensure_topics
from services.keys import ensure_local_key
from tests.support.stack import (
    ASCOLTO,
    Pipeline,
    Proc,
    free_port,
    teardown_pipeline,
    wait_http,
    wait_ready,
)

USED_NAMES: list[str] = []  # every prefix this process made, for the report


def unique_name(kind: str) -> str:
    name = f"bench{kind}{uuid.uuid4().hex[:8]}"
    USED_NAMES.append(name)
    return name


def start_pipeline(
    tmp: Path,
    *,
    worker: bool,
    extra_env: dict[str, str] | None = None,
    workers: int = 1,
    indexers: int = 0,
) -> Pipeline:
    """Topics, indices and a running ingest; the workers too when ``worker`` is true
    (``workers`` processes in one consumer group, each with its own port and data dir, and
    ``indexers`` index-stage processes; with none, the workers index)."""
    uid = unique_name("")
    env = {
        **os.environ,
        "ASCOLTO_TOPIC_PREFIX": f"{uid}.",
        "ASCOLTO_INDEX_PREFIX": uid,
        "ASCOLTO_APP_ID": uid,
        "ASCOLTO_INGEST_PORT": str(free_port()),
        "ASCOLTO_WORKER_WEB_PORT": str(free_port()),
        "ASCOLTO_WORKER_DATA_DIR": str(tmp / uid / "worker-data"),
        **(extra_env or {}),
        **({"ASCOLTO_INDEX_INLINE": "false"} if indexers else {}),
    }
    settings = Settings.from_env(env)
    ensure_local_key(settings)
    (tmp / uid).mkdir(parents=True, exist_ok=True)
    ensure_topics(settings.kafka)
    setup_indices(settings.elastic)
    ingest = Proc("ingest", [ASCOLTO, "serve-ingest"], env, tmp / uid / "ingest.log")
    work = Proc("worker", [ASCOLTO, "worker"], env, tmp / uid / "worker.log")
    pipe = Pipeline(settings, env, ingest, work, client(settings.elastic))
    for n in range(2, workers + 1):
        pipe.add_worker(f"worker{n}")
    for n in range(1, indexers + 1):
        pipe.add_worker(f"indexer{n}", "indexer")
    try:
        ingest.start()
        wait_http(f"{pipe.ingest_url}/readyz", b"true", 60, ingest)
        if worker:
            start_workers(pipe)
    except BaseException:
        stop_pipeline(pipe)
        raise
    return pipe


def all_workers(pipe: Pipeline) -> list[Proc]:
    """The processes of the stream and index stages."""
    return [pipe.worker, *pipe.extra_workers]


def start_workers(pipe: Pipeline) -> None:
    """Start every worker of the pipeline at once, then wait until each serves /metrics."""
    for proc in all_workers(pipe):
        proc.start()
    for proc in all_workers(pipe):
        wait_ready(proc)


def stop_pipeline(pipe: Pipeline) -> None:
    """Stop its processes, delete its topics, indices and consumer group."""
    try:
        teardown_pipeline(pipe)
    finally:
        w = pipe.settings.worker
        delete_groups(pipe.settings.kafka, [w.app_id, w.index_group])


def delete_groups(k: KafkaSettings, groups: Iterable[str]) -> None:
    admin = KafkaAdminClient(**kafka_options(k))
    try:
        with contextlib.suppress(Exception):  # an unknown or still-active group: nothing to do
            admin.delete_groups(list(groups))
    finally:
        admin.close()


def remove_leftovers(k: KafkaSettings, e: ElasticSettings, prefix: str) -> list[str]:
    """Delete the topics, consumer groups, indices and index templates named ``prefix...``:
    what a benchmark killed without a chance to clean up (SIGKILL) leaves behind."""
    if not prefix.startswith("bench"):
        raise ValueError("only benchmark names (bench...) can be removed this way")
    admin = KafkaAdminClient(**kafka_options(k))
    try:
        topics = [t for t in admin.list_topics() if t.startswith(prefix)]
        if topics:
            admin.delete_topics(topics)
        groups = [g["group_id"] for g in admin.list_groups()]
        with contextlib.suppress(Exception):
            admin.delete_groups([g for g in groups if g.startswith(prefix)])
    finally:
        admin.close()
    es = client(e).options(ignore_status=404)
    rows = cast(list[dict[str, str]], es.cat.indices(index=f"{prefix}*", format="json").body)
    indices = [row["index"] for row in rows]
    for index in indices:
        es.indices.delete(index=index)
    templates = es.indices.get_index_template(name=f"{prefix}*").body.get("index_templates", [])
    for template in templates:
        es.indices.delete_index_template(name=template["name"])
    return topics + indices + [t["name"] for t in templates]


@contextlib.contextmanager
def scratch_topics(k: KafkaSettings, names: list[str], partitions: int) -> Iterator[list[str]]:
    """Topics that exist for the duration of the block."""
    admin = KafkaAdminClient(**kafka_options(k))
    try:
        admin.create_topics(
            [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
        )
        yield names
    finally:
        with contextlib.suppress(Exception):
            admin.delete_topics(names)
        admin.close()


class Offsets:
    """End offsets of topics and committed offsets of a group, over long-lived clients."""

    def __init__(self, k: KafkaSettings) -> None:
        self._consumer = KafkaConsumer(**kafka_options(k), enable_auto_commit=False)
        self._admin = KafkaAdminClient(**kafka_options(k))
        self._partitions: dict[str, list[TopicPartition]] = {}

    def partitions(self, topic: str) -> list[TopicPartition]:
        if topic not in self._partitions:
            found = self._consumer.partitions_for_topic(topic) or set()
            self._partitions[topic] = [TopicPartition(topic, p) for p in sorted(found)]
        return self._partitions[topic]

    def end(self, topics: Iterable[str]) -> dict[str, int]:
        """Messages ever written per topic (the sum of its partitions' end offsets)."""
        tps = [tp for t in topics for tp in self.partitions(t)]
        out = dict.fromkeys(topics, 0)
        for tp, offset in self._consumer.end_offsets(tps).items():
            out[tp.topic] += offset
        return out

    def committed(self, group: str, topics: Iterable[str]) -> dict[str, int]:
        wanted = set(topics)
        out = dict.fromkeys(wanted, 0)
        found = self._admin.list_group_offsets({group: None}).get(group, {})
        for tp, meta in found.items():
            if tp.topic in wanted and meta.offset > 0:
                out[tp.topic] += meta.offset
        return out

    def lag(self, group: str, topics: Iterable[str]) -> int:
        topics = list(topics)
        ends, done = self.end(topics), self.committed(group, topics)
        return sum(max(0, ends[t] - done[t]) for t in topics)

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()
