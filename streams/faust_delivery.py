"""One change to faust-streaming's fetch loop: records reach the agents without a task each.

faust's ``Consumer._drain_messages`` hands every fetched record to the conductor through
mode's ``wait_first(callback(message), suspend_flow.wait())``: four tasks created and three
cancelled per record, and at least two turns of the event loop before the next record. In
the worker those turns wait behind the stages' CPU work, and the fetch loop fell behind:
paced at ~700 contacts/s, a contact took 0.7 s from Kafka to faust's hands and 0.9 s to the
route stage (``ascolto_stage_wait_seconds``), with the worker's CPU two-thirds used.

While the flow is active the loop now awaits the callback itself; the conductor's
``on_message`` then returns without suspending unless a channel's buffer is full. faust
races the callback against ``suspend_flow`` so that a rebalance abandons the record in
hand; a record delivered after a rebalance anyway carries the old ``generation_id``, and
faust's ``Stream`` skips such records (``faust/streams.py``). With the flow stopped the
loop does what faust does.

The change is made to faust's own function, by replacing that one statement in its source:
if an upgrade changes the statement, ``enable`` raises rather than run an unknown loop.
"""

from __future__ import annotations

import inspect
import textwrap

import faust.transport.consumer as consumer_module

RACED = """await self.wait_first(
    callback(message), self.suspend_flow.wait()
)"""
DIRECT = """if self.flow_active:
    await callback(message)
else:
    await self.wait_first(callback(message), self.suspend_flow.wait())"""

_original = consumer_module.Consumer._drain_messages


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


def disable() -> None:
    consumer_module.Consumer._drain_messages = _original  # type: ignore[method-assign]


def enabled() -> bool:
    return consumer_module.Consumer._drain_messages is not _original
