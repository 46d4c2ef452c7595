"""faust as the worker runs it: the App subclass create_app builds.

Interim: the behaviour still comes from the run-time patches in streams.faust_delivery,
streams.rebalance_guard and streams.fetch_wait; this module is where their replacements,
subclasses selected through faust's own settings, go.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import faust

from streams import faust_delivery, fetch_wait, rebalance_guard


class WorkerApp(faust.App):
    """faust's App with the worker's changes to its consumer."""

    def __init__(
        self,
        *args: Any,
        gapless_topics: Collection[str] = (),
        fetch_max_wait_ms: int = 50,
        direct_delivery: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        rebalance_guard.install(self, gapless_topics=gapless_topics)
        if direct_delivery:
            faust_delivery.enable()
        fetch_wait.install(fetch_max_wait_ms)
