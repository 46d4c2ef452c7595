"""Plain data for SLA clocks: what is owed (OwedTarget) and what happened (SlaEvent).

Times are UTC epoch milliseconds throughout. Nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TargetKind = Literal["first_response", "next_response", "hard_limit", "resolution"]
EventType = Literal["warning", "breached", "met"]
Outcome = Literal["met", "breached", "open"]

#: Response kinds are owed per customer message (subject: contact_id);
#: resolution is owed per conversation (subject: conversation_id).
RESPONSE_KINDS: tuple[TargetKind, ...] = ("first_response", "next_response", "hard_limit")
TARGET_KINDS: tuple[TargetKind, ...] = (*RESPONSE_KINDS, "resolution")

#: Same symbols as the Channel enum in schemas/contact.v1.avsc (a unit test keeps them equal).
CHANNELS: tuple[str, ...] = ("social", "email", "web_form", "chat", "phone")
PRIORITIES: tuple[str, ...] = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class Pause:
    """The clock is stopped in [start_ms, end_ms); end_ms None: still waiting on the customer."""

    start_ms: int
    end_ms: int | None = None

    def __post_init__(self) -> None:
        if self.end_ms is not None and self.end_ms < self.start_ms:
            raise ValueError(f"pause ends before it starts: {self.start_ms} > {self.end_ms}")


@dataclass(frozen=True)
class OwedTarget:
    """One clock: something owed to a customer since started_at_ms, until stopped_at_ms.

    For response kinds stopped_at_ms is the agent's answer; for resolution it is the close.
    `pauses` may come in any order and may overlap; they are normalised before use.
    """

    kind: TargetKind
    conversation_id: str
    contact_id: str | None
    brand: str
    channel: str
    priority: str | None
    tier: str | None
    started_at_ms: int
    stopped_at_ms: int | None = None
    pauses: tuple[Pause, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in TARGET_KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}; expected one of {TARGET_KINDS}")
        if self.kind in RESPONSE_KINDS and not self.contact_id:
            raise ValueError(f"a {self.kind} target needs the contact_id of the owed message")
        if not self.conversation_id:
            raise ValueError("a target needs a conversation_id")
        if self.stopped_at_ms is not None and self.stopped_at_ms < self.started_at_ms:
            raise ValueError(
                f"{self.subject_id}: stopped_at_ms {self.stopped_at_ms} is before "
                f"started_at_ms {self.started_at_ms}"
            )

    @property
    def subject_id(self) -> str:
        """The id the clock is about: the owed contact, or the conversation for resolution."""
        if self.kind == "resolution":
            return self.conversation_id
        assert self.contact_id is not None
        return self.contact_id


@dataclass(frozen=True)
class SlaEvent:
    """A fact about one clock, true from occurred_at_ms on.

    Every field is a function of the target, rule and calendar only (never of when it was
    evaluated), so a sink keyed by event_id can write it any number of times. `met` and
    `breached` share one event_id per clock: they are the two values of its outcome.
    """

    event_id: str
    event_type: EventType
    kind: TargetKind
    conversation_id: str
    contact_id: str | None
    rule: str
    deadline_ms: int
    elapsed_s: float
    target_s: int
    brand: str
    channel: str
    priority: str | None
    tier: str | None
    occurred_at_ms: int


def event_id(target: OwedTarget, event_type: EventType) -> str:
    """`<subject>:<kind>:warning` or `<subject>:<kind>:outcome` (shared by met and breached)."""
    slot = "warning" if event_type == "warning" else "outcome"
    return f"{target.subject_id}:{target.kind}:{slot}"
