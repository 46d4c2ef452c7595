"""The worker killed with SIGKILL five times during a 100,000-contact replay, restarted each
time: the report's figures are exactly the independent computation's (tests.support.
archive_truth), as for one kill in tests/integration/test_stream_core.py."""

from __future__ import annotations

import signal
import threading
from functools import partial
from pathlib import Path

import pytest

from services.importers.run import ImportResult, run_import
from services.importers.twitter import read_archive
from services.observe import wait_settled
from tests.support.faults import Figures
from tests.support.report_checks import assert_matches, report
from tests.support.stack import Pipeline
from tests.support.twitter_archive import generate
from tests.support.waiting import wait_until

FAULT = "The worker killed five times during a replay of {size:,} customer messages"
PROMISE = (
    "each SIGKILL loses nothing and counts nothing twice: restarted each time, the worker "
    "ends with exactly the figures an independent computation gives the archive (messages, "
    "duplicates, answered, unanswered, response-time percentiles per brand)."
)
KILLS = 5


def test_worker_killed_five_times_mid_replay_gives_the_exact_figures(
    figures: Figures, private_pipeline: Pipeline, tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    pipe, size = private_pipeline, pytestconfig.getoption("replay_size")
    figures.fault = FAULT.format(size=size)  # 100,000 unless --replay-size says otherwise
    archive = generate(size, seed=29)
    path = archive.write(tmp_path / "twcs.csv")
    done: list[ImportResult] = []

    def replay() -> None:
        reader = lambda p: read_archive(path, on_progress=p)  # noqa: E731
        done.append(run_import(pipe.settings, reader, progress=False))

    importer = threading.Thread(target=replay)
    importer.start()
    indexed_at_kills = []
    for kill in range(1, KILLS + 1):
        target = kill * len(archive.posts) // (KILLS + 2)
        wait_until(partial(_indexed_at_least, pipe, target), 900, f"{target} contacts indexed")
        indexed_at_kills.append(_indexed(pipe))
        pipe.worker.stop(signal.SIGKILL)
        pipe.start_worker()
    importer.join(timeout=900)
    assert done, "the replay did not finish"
    wait_settled(pipe.settings, timeout_s=900)

    found = _indexed(pipe)
    figures.posted, figures.acknowledged = len(archive.posts), done[0].accepted
    figures.indexed, figures.duplicates = found, found - len(archive.posts)
    figures.extra["SIGKILLs, each followed by a restart"] = KILLS
    figures.extra["contacts indexed at each kill"] = ", ".join(map(str, indexed_at_kills))
    figures.extra["rows repeated in the archive"] = archive.repeated_rows
    assert not done[0].bad
    assert found == len(archive.posts)
    assert_matches(report(pipe), archive.expected)
    figures.passed = True


def _indexed_at_least(pipe: Pipeline, n: int) -> bool:
    return _indexed(pipe) >= n


def _indexed(pipe: Pipeline) -> int:
    pipe.es.indices.refresh(index=pipe.settings.elastic.contacts)
    return int(pipe.es.count(index=pipe.settings.elastic.contacts)["count"])
