"""Fixtures for tests against the real local stack (`make up`: Kafka, Elasticsearch,
Prometheus), from tests.support.stack. Every test collected here is marked ``integration``,
so ``-m "not integration"`` leaves them all out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ascolto.config import Settings
from tests.support.secured_kafka import SecuredBroker, start_secured_broker
from tests.support.stack import Pipeline, make_pipeline, stack_settings, teardown_pipeline

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return stack_settings()


@pytest.fixture(scope="module")
def pipeline(
    base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    pipe = make_pipeline(base_settings, tmp_path_factory.mktemp("pipeline"))
    try:
        yield pipe
    finally:
        teardown_pipeline(pipe)


@pytest.fixture(scope="session")
def secured_broker(base_settings: Settings) -> Iterator[SecuredBroker]:
    """A broker of the session's own with SASL_SSL, mutual TLS and the authorizer
    (tests/support/secured_kafka.py): test_secured and test_acls share it."""
    with start_secured_broker(base_settings) as broker:
        yield broker
