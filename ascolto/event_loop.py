"""The asyncio event loop the services run on: uvloop unless ``ASCOLTO_EVENT_LOOP=asyncio``.

The worker's CPU went a tenth to the event loop itself (callbacks, futures, selector) in
the bench profile; uvloop runs that part in C. Set before any loop is created.
"""

from __future__ import annotations

import asyncio
from typing import Final, Literal, get_args

EventLoop = Literal["uvloop", "asyncio"]
EVENT_LOOPS: Final[tuple[EventLoop, ...]] = get_args(EventLoop)


def use_event_loop(name: EventLoop) -> None:
    if name not in EVENT_LOOPS:  # the settings check it; this is for other callers
        raise ValueError(f"the event loop must be one of {', '.join(EVENT_LOOPS)}: {name!r}")
    if name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    else:
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
