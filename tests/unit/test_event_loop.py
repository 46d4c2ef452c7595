import asyncio
from collections.abc import Iterator

import pytest
import uvloop

from ascolto.config import Settings
from ascolto.event_loop import use_event_loop


@pytest.fixture(autouse=True)
def restore_policy() -> Iterator[None]:
    before = asyncio.get_event_loop_policy()
    yield
    asyncio.set_event_loop_policy(before)


def loop_type() -> type:
    loop = asyncio.new_event_loop()
    try:
        return type(loop)
    finally:
        loop.close()


def test_services_run_on_uvloop_by_default() -> None:
    use_event_loop(Settings.from_env({}).event_loop)
    assert loop_type() is uvloop.Loop


def test_the_standard_loop_can_be_chosen() -> None:
    use_event_loop(Settings.from_env({"ASCOLTO_EVENT_LOOP": "asyncio"}).event_loop)
    assert not issubclass(loop_type(), uvloop.Loop)


def test_an_unknown_loop_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="uvloop, asyncio"):
        use_event_loop("trio")
