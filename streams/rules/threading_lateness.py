"""Too late: a contact that could need a conversation its customer's timeline forgot.

A timeline forgets whole conversations whose last message is the retention older than the
customer's newest contact (threading.evict; or its oldest ones, when over the size limit).
It remembers when the latest of them ended: ``forgotten``. A contact arriving after others
of its customer is threaded as if it had come in order, unless:

- it falls within the threading rules' reach (the thread and near-duplicate windows) of a
  forgotten conversation's last message, which it could continue, linked or not;
- it names a parent (in_reply_to, references, conversation_ref), none of them held, and that
  parent's conversation could have ended within the retention before it;
- or it is the retention older than the customer's newest contact, with no explicit link to
  a message held: placed, its conversation would be forgotten at once, and the answer
  arriving after it would find nothing.

Threaded against what is left, such a contact would be counted wrong (a message answered
counted unanswered, a conversation split); it is set aside as too late instead, with its
event time and the limit it missed. An explicit link, either way, to a message still held
places an old contact: that conversation is held whole (eviction takes conversations
entirely). Nothing is too late in event-time order, or for a customer the worker holds and
forgot nothing of (an archive from 2017 is on time in a worker that sees live traffic). An
explicit link reaching back more than the retention is not followed in order either, once
the parent is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from streams.rules.threading import ThreadingParams
from streams.rules.timeline import Message

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TooLate:
    """Why a contact was set aside: when it happened, and the limit it missed: its customer's
    newest contact less the retention (``forgotten`` False), or when the forgotten
    conversation it could belong to ended (True)."""

    occurred_at: int
    limit: int
    forgotten: bool

    @property
    def reason(self) -> str:
        when = _iso(self.occurred_at)
        if self.forgotten:
            return (
                f"too late: occurred at {when}, within reach of a conversation its customer's "
                f"timeline forgot (it ended at {_iso(self.limit)}): it could belong to it"
            )
        return (
            f"too late: occurred at {when}, before {_iso(self.limit)}, the retention before its "
            "customer's newest contact: its conversation is forgotten there"
        )


@dataclass(frozen=True, slots=True)
class Horizon:
    """What a timeline still remembers, judged once per step."""

    timeline: Mapping[str, Message]
    forgotten: int | None  # when the latest forgotten conversation ended; None: none was
    oldest_kept: int | None  # the newest contact's time less the retention; None: empty
    retention_ms: int
    reach_ms: int  # how far back the threading rules look without an explicit link

    @classmethod
    def of(
        cls,
        timeline: Mapping[str, Message],
        forgotten: int | None,
        retention_ms: int,
        params: ThreadingParams,
    ) -> Horizon:
        # a retention shorter than the windows forgets within them in event-time order too
        reach = min(max(params.thread_window_ms, params.near_dup_window_ms), retention_ms)
        newest = max((m["occurred_at"] for m in timeline.values()), default=None)
        oldest_kept = None if newest is None else newest - retention_ms
        return cls(timeline, forgotten, oldest_kept, retention_ms, reach)

    def too_late(self, contact: Mapping[str, Any]) -> TooLate | None:
        """None when the contact can be threaded as if it had come in order."""
        occurred_at = int(contact["occurred_at"])
        if contact["contact_id"] in self.timeline:
            return None  # a redelivery of a message held
        forgotten, oldest_kept = self.forgotten, self.oldest_kept
        old = oldest_kept is not None and occurred_at < oldest_kept
        if not old and forgotten is None:
            return None
        if forgotten is not None and occurred_at - self.reach_ms <= forgotten:
            return TooLate(occurred_at, forgotten, forgotten=True)  # a link does not rule it out
        linked = self._linked(contact)
        if linked:
            return None
        if (
            forgotten is not None
            and linked is False
            and occurred_at - self.retention_ms <= forgotten
        ):
            return TooLate(occurred_at, forgotten, forgotten=True)
        if old and oldest_kept is not None:
            return TooLate(occurred_at, oldest_kept, forgotten=False)
        return None

    def _linked(self, contact: Mapping[str, Any]) -> bool | None:
        """True: an explicit link, either way, to a message held; False: links, to none of
        them; None: no link."""
        parents = {contact.get("in_reply_to"), *(contact.get("references") or ())} - {None}
        ref, source_id = contact.get("conversation_ref"), contact.get("source_id")
        held = any(
            m["source_id"] in parents
            or (ref is not None and m["conversation_ref"] == ref)
            or source_id == m["in_reply_to"]
            or source_id in m["references"]
            for m in self.timeline.values()
        )
        return True if held else (False if parents or ref is not None else None)


def forgotten_after(before: int | None, dropped_last_messages: Iterable[int]) -> int | None:
    """``forgotten`` once conversations ending at these times are dropped too."""
    return max([*dropped_last_messages, *([] if before is None else [before])], default=None)


def split_late(
    horizon: Horizon, records: Iterable[T], contact_of: Callable[[T], Mapping[str, Any]]
) -> tuple[list[T], list[tuple[T, TooLate]]]:
    """(on time, too late with why) of a batch of one customer's records. The horizon is the
    timeline's before the batch: contacts of one batch are threaded together, before any
    eviction, as they would be in order."""
    on_time: list[T] = []
    late: list[tuple[T, TooLate]] = []
    for record in records:
        why = horizon.too_late(contact_of(record))
        if why is None:
            on_time.append(record)
        else:
            late.append((record, why))
    return on_time, late


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="seconds")
