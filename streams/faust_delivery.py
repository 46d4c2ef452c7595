"""One change to faust-streaming's fetch loop: records reach the agents without a task each.

faust's ``Consumer._drain_messages`` hands every fetched record to the conductor through
mode's ``wait_first(callback(message), suspend_flow.wait())``: four tasks created and three
cancelled per record, and at least two turns of the event loop before the next record. In
the worker those turns wait behind the stages' CPU work, and the fetch loop fell behind:
paced at ~700 contacts/s, a contact took 0.7 s from Kafka to faust's hands and 0.9 s to the
route stage (``ascolto_stage_wait_seconds``), with the worker's CPU two-thirds used.

While the flow is active the loop now awaits the callback itself; the conductor's
``on_message`` then returns without suspending unless a channel's buffer is full. With the
flow stopped the loop does what faust does. faust races the callback against
``suspend_flow`` so that a rebalance abandons the record in hand; awaiting it instead has
three consequences, each handled:

- A record delivered after a rebalance carries the old ``generation_id``, and faust's
  ``Stream`` skips such records (``faust/streams.py``).
- Its offset must not become the partition's read offset: the new assignment has already
  seeked to the committed offset, and the loop would drop the records in between as already
  read. The loop moves on without recording it.
- A rebalance empties the agents' buffers (mode's ``FlowControlQueue.clear``) without waking
  a put that waits for room, so the loop, waiting there, would wait for ever: no other task
  puts into the buffer, and only a put wakes the agent reading it. ``clear`` now wakes the
  waiting puts too; their records carry the old generation and are skipped.

The loop's change is made to faust's own function, by replacing that one statement in its
source: if an upgrade changes the statement, ``enable`` raises rather than run an unknown
loop.
"""

from __future__ import annotations

import inspect
import textwrap

import faust.transport.consumer as consumer_module
from mode.utils.queues import FlowControlQueue

RACED = """await self.wait_first(
    callback(message), self.suspend_flow.wait()
)"""
DIRECT = """if self.flow_active:
    await callback(message)
    if message.generation_id != self.app.consumer_generation_id:
        continue
else:
    await self.wait_first(callback(message), self.suspend_flow.wait())"""

_original = consumer_module.Consumer._drain_messages
_original_clear = FlowControlQueue.clear


def _clear_and_wake_putters(queue: FlowControlQueue) -> None:  # type: ignore[type-arg]
    """mode's ``clear``, then wake every put waiting for room: there is room now."""
    _original_clear(queue)
    putters = queue._putters  # type: ignore[attr-defined]
    while putters:
        queue._wakeup_next(putters)  # type: ignore[attr-defined]


def direct_source() -> str:
    """faust's ``_drain_messages`` with the statement replaced."""
    source = textwrap.dedent(inspect.getsource(_original))
    lines = source.splitlines()
    # the statement spans three lines: find it whatever its indentation
    for i, line in enumerate(lines):
        if line.strip() == "await self.wait_first(":
            indent = line[: len(line) - len(line.lstrip())]
            found = "\n".join(lines[i : i + 3])
            if textwrap.dedent(found) == RACED:
                replaced = textwrap.indent(DIRECT, indent).splitlines()
                return "\n".join(lines[:i] + replaced + lines[i + 3 :]) + "\n"
    raise RuntimeError(
        "faust's Consumer._drain_messages no longer hands records out with "
        "wait_first(callback(message), suspend_flow.wait()): review streams.faust_delivery"
    )


def enable() -> None:
    """Use the direct loop in every faust consumer of this process (idempotent)."""
    namespace: dict[str, object] = {}
    code = compile(direct_source(), inspect.getsourcefile(_original) or "<faust>", "exec")
    exec(code, vars(consumer_module), namespace)  # noqa: S102  # faust's own source, one statement changed
    consumer_module.Consumer._drain_messages = namespace["_drain_messages"]  # type: ignore[method-assign,assignment]
    FlowControlQueue.clear = _clear_and_wake_putters  # type: ignore[method-assign,assignment]


def disable() -> None:
    consumer_module.Consumer._drain_messages = _original  # type: ignore[method-assign]
    FlowControlQueue.clear = _original_clear  # type: ignore[method-assign]


def enabled() -> bool:
    return consumer_module.Consumer._drain_messages is not _original
