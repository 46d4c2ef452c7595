"""The wait the worker's faust consumer asks the broker for (streams.fetch_wait): faust
writes 1.5 s into its driver; installed, the consumer it creates asks for the setting's."""

from __future__ import annotations

import asyncio

import faust
import pytest

from streams import fetch_wait


def created_consumer_wait() -> int:
    async def create() -> int:
        app = faust.App("fetch-wait-test", broker="kafka://127.0.0.1:9")
        consumer = app.consumer._thread._create_worker_consumer(app.transport)  # type: ignore[attr-defined]
        try:
            return consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()  # never started: releases what the constructor took

    return asyncio.run(create())


@pytest.fixture
def restored():
    yield
    fetch_wait.uninstall()


def test_faust_alone_lets_the_broker_hold_a_fetch_for_one_and_a_half_seconds(restored) -> None:
    # if an upgrade changes this, the module's account of why it exists is out of date
    assert created_consumer_wait() == 1500


def test_installed_the_worker_consumer_asks_for_the_configured_wait(restored) -> None:
    fetch_wait.install(50)
    assert created_consumer_wait() == 50
    fetch_wait.install(20)  # a second install replaces the first, it does not wrap it
    assert created_consumer_wait() == 20
    fetch_wait.uninstall()
    assert created_consumer_wait() == 1500
