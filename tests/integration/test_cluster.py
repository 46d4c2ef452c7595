"""A 3-broker KRaft cluster (replication factor 3, `min.insync.replicas` 2) of the test's own,
run by the stack's functions: the broker leading the most partitions is SIGKILLed while an
archive is imported through ingest and two workers, and every contact is still indexed exactly
once, with the figures an independent count gives."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from elasticsearch.helpers import scan
from kafka.admin import ConfigResource, ConfigResourceType

from ascolto.config import Settings
from ascolto.topics import group_specs, topic_specs
from ascolto.validation import contact_id_for
from services.importers.common import Refused
from services.importers.run import ImportResult, run_import
from services.importers.twitter import SOURCE, read_archive
from services.observe import end_offsets, wait_settled
from tests.support.kafka_cluster import KafkaCluster, kafka_cluster
from tests.support.report_checks import assert_matches, report
from tests.support.stack import Pipeline, make_pipeline, teardown_pipeline, wait_ready
from tests.support.twitter_archive import generate
from tests.support.waiting import wait_until

SIZE = 2000
# Slow enough that posting outlasts the failover (a dead node is fenced after 9 s without
# heartbeats), so ingest's producer sends through it.
ROWS_PER_SECOND = 250


def test_a_leader_killed_mid_import_loses_and_doubles_nothing(
    base_settings: Settings, tmp_path: Path
) -> None:
    started = time.monotonic()
    with kafka_cluster(tmp_path / "kafka-logs") as cluster:
        pipe = make_pipeline(
            base_settings,
            tmp_path,
            {
                "ASCOLTO_KAFKA_BOOTSTRAP": cluster.bootstrap,
                "ASCOLTO_REPLICATION_FACTOR": "3",
                "ASCOLTO_MIN_INSYNC_REPLICAS": "2",
                "ASCOLTO_BATCH_SIZE": "200",
            },
        )
        second = pipe.add_worker("second-worker")
        try:
            second.start()
            wait_ready(second)
            topics = [
                *topic_specs(pipe.settings.kafka),
                *group_specs(pipe.settings.worker.app_id),
            ]
            assert_replicated(cluster, topics)
            figures = import_through_a_leader_kill(pipe, cluster, topics, tmp_path)
            assert all(w.popen and w.popen.poll() is None for w in (pipe.worker, second))
        finally:
            teardown_pipeline(pipe)
    print(f"\n{figures}, {time.monotonic() - started:.0f} s")


def assert_replicated(cluster: KafkaCluster, topics: list[str]) -> None:
    admin = cluster.admin()
    try:
        for topic in admin.describe_topics(topics):
            assert {len(p["replica_nodes"]) for p in topic["partitions"]} == {3}, topic["name"]
        asked = {"min.insync.replicas": None}
        resources = [ConfigResource(ConfigResourceType.TOPIC, t, configs=asked) for t in topics]
        described = admin.describe_configs(resources, config_filter="all")["topic"]
        assert {t: described[t]["min.insync.replicas"]["value"] for t in topics} == dict.fromkeys(
            topics, "2"
        )
    finally:
        admin.close()


def import_through_a_leader_kill(
    pipe: Pipeline, cluster: KafkaCluster, topics: list[str], tmp_path: Path
) -> dict[str, Any]:
    archive = generate(SIZE, seed=27)
    path = archive.write(tmp_path / "twcs.csv")
    settings = pipe.settings
    with ThreadPoolExecutor(1) as pool:
        rows = Paced(ROWS_PER_SECOND)
        importing = pool.submit(
            run_import,
            settings,
            lambda progress: rows.of(read_archive(path, on_progress=progress)),
            batch_size=100,
            progress=False,
        )
        quarter = len(archive.posts) // 4
        wait_until(lambda: published(pipe) > quarter, 120, "a quarter of the archive")
        victim, led = cluster.leaders(topics).most_common(1)[0]
        cluster.kill(victim)
        posted_before_kill = rows.contacts
        assert not importing.done(), "the import ended before the kill: slow it down"
        result: ImportResult = importing.result(timeout=300)
    wait_settled(settings, timeout_s=300)

    indexed = Counter(
        doc["_source"]["contact_id"]
        for doc in scan(pipe.es, index=settings.elastic.contacts, query={"_source": ["contact_id"]})
    )
    expected = {contact_id_for(SOURCE, tweet_id) for tweet_id in archive.posts}
    figures = {
        "killed node": victim,
        "partitions it led": led,
        "posted": rows.contacts,
        "posted after the kill": rows.contacts - posted_before_kill,
        "acknowledged": result.accepted,
        "indexed": len(indexed),
        "duplicates": sum(n - 1 for n in indexed.values()),
    }
    assert figures["posted after the kill"] >= len(expected) // 2, figures
    assert not result.bad, result.bad[:5]
    assert result.accepted == len(expected), figures
    assert set(indexed) == expected, figures
    assert figures["duplicates"] == 0, figures
    assert_matches(report(pipe), archive.expected)
    assert victim not in cluster.leaders(topics)
    return figures


class Paced:
    """An archive's rows at a set pace, counting the contacts among them (what is posted)."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.contacts = 0

    def of(self, rows: Iterable[Any]) -> Iterator[Any]:
        start = time.monotonic()
        for n, row in enumerate(rows):
            time.sleep(max(0.0, start + n / self.per_second - time.monotonic()))
            self.contacts += not isinstance(row, Refused)
            yield row


def published(pipe: Pipeline) -> int:
    return sum(end_offsets(pipe.settings, pipe.settings.kafka.raw).values())
