"""The asyncio event loop the services run on: uvloop unless ``ASCOLTO_EVENT_LOOP=asyncio``.

The worker's CPU went a tenth to the event loop itself (callbacks, futures, selector) in
the bench profile; uvloop runs that part in C. Set before any loop is created.
"""

from __future__ import annotations

import asyncio

EVENT_LOOPS = ("uvloop", "asyncio")


def use_event_loop(name: str) -> None:
    if name not in EVENT_LOOPS:
        raise ValueError(f"ASCOLTO_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}: {name!r}")
    if name == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    else:
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
