"""Messages of one customer for the threading rules' tests: times in minutes after T0."""

from __future__ import annotations

from streams.rules.fingerprint import fingerprint
from streams.rules.timeline import Channel, Message, Timeline, add
from streams.rules.views import Derived

T0 = 1_760_000_000_000
MINUTE = 60_000
HOUR = 60
DAY = 24 * HOUR


def ms(minutes: int) -> int:
    return T0 + minutes * MINUTE


def msg(
    cid: str,
    at: int,
    *,
    agent: bool = False,
    close: bool = False,
    channel: Channel = "social",
    ref: str | None = None,
    reply_to: str | None = None,
    references: tuple[str, ...] = (),
    text: str | None = None,
) -> Message:
    """A contact whose source_id is its contact_id; `at` in minutes after T0."""
    return {
        "contact_id": cid,
        "source": "test",
        "source_id": cid,
        "channel": channel,
        "direction": "outbound" if agent else "inbound",
        "kind": "close" if close else "message",
        "brand": "acme",
        "customer_id": "cust-1",
        "conversation_ref": ref,
        "in_reply_to": reply_to,
        "references": list(references),
        "occurred_at": ms(at),
        "fingerprint": None if text is None else fingerprint(text),
    }


def timeline(*messages: Message) -> Timeline:
    tl: Timeline = {}
    for m in messages:
        tl, _ = add(tl, m)
    return tl


def conv_of(d: Derived, cid: str) -> str:
    return d.contacts[cid].conversation_id


def groups(d: Derived) -> list[set[str]]:
    by_conv: dict[str, set[str]] = {}
    for v in d.contacts.values():
        by_conv.setdefault(v.conversation_id, set()).add(v.contact_id)
    return sorted(by_conv.values(), key=min)
