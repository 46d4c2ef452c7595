"""The fault suite (docs/reliability.md): each test breaks something the pipeline depends on
and measures what it promises. Its own Kafka and Elasticsearch (tests.support.faults), never
the shared stack's, are the ones stopped; they are started once a session and stopped at its
end. Every test here is marked ``faults`` and ``integration``; each one's figures are written
to docs/reliability.md when the session ends."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ascolto.config import ROOT, Settings
from tests.support.faults import Figures, PrivateStack, write_report
from tests.support.stack import Pipeline, make_pipeline, stack_settings, teardown_pipeline

HERE = Path(__file__).parent
# the order of the faults in docs/reliability.md
ORDER = [
    "Elasticsearch stopped for a minute",
    "Elasticsearch refusing writes with 429",
    "Elasticsearch's disk over the flood-stage watermark",
    "Kafka stopped for 20 seconds",
    "The worker killed five times during a replay of 100,000 customer messages",
    "A poison record in each consumed topic",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--replay-size", type=int, default=100_000,
        help="customer messages in the worker-kills test's archive (its promise: 100,000)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: breaks a server; docs/reliability.md")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return stack_settings()


@pytest.fixture(scope="session")
def measured() -> Iterator[list[Figures]]:
    """Each test appends its figures; those of the tests that passed are written at the end."""
    found: list[Figures] = []
    yield found
    passed = [f for f in found if f.passed]
    if passed:
        write_report(passed, ORDER)


@pytest.fixture
def figures(request: pytest.FixtureRequest, measured: list[Figures]) -> Iterator[Figures]:
    """The figures of the requesting test, named by its module's FAULT and PROMISE; its
    duration counts its pipeline's setup and teardown when it asks for this fixture first."""
    started = time.monotonic()
    found = Figures(request.module.FAULT, request.module.PROMISE)
    measured.append(found)
    yield found
    found.seconds = time.monotonic() - started


@pytest.fixture(scope="session")
def private_stack(base_settings: Settings) -> Iterator[PrivateStack]:
    """One a session, in a run directory of its own: two sessions at once do not meet."""
    stack = PrivateStack(ROOT / ".run" / "faults" / uuid.uuid4().hex[:8], base_settings)
    try:
        stack.up("kafka", "elasticsearch")
        yield stack
    finally:
        stack.down("kafka", "elasticsearch")
        shutil.rmtree(stack.run_dir, ignore_errors=True)


@pytest.fixture
def private_pipeline(
    base_settings: Settings, private_stack: PrivateStack, tmp_path: Path
) -> Iterator[Pipeline]:
    """A pipeline (ingest, worker) of the test's own on the suite's own servers."""
    pipe = make_pipeline(base_settings, tmp_path, private_stack.pipeline_env())
    try:
        yield pipe
    finally:
        teardown_pipeline(pipe)
