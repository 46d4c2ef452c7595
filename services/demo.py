"""A deterministic demo set: a few hundred contacts over every channel, some malformed.

Threads of several turns (customer -> agent -> customer ...), some never answered, a
near-duplicate reposted on another channel, an exact redelivery, and a handful of contacts
that are invalid on purpose so the demo shows refusals too.
"""

from __future__ import annotations

import random
from typing import Any

BRANDS = ("acme", "globex", "initech")
COMPLAINTS = (
    "my order {n} never arrived and nobody answers",
    "I was charged twice for invoice {n}, please refund",
    "the app keeps crashing since update {n}",
    "cannot log into my account {n}, password reset does nothing",
    "I want to cancel subscription {n} today",
    "il mio ordine {n} non è mai arrivato, pessimo servizio",
    "la fattura {n} è sbagliata, mi avete addebitato due volte",
)
QUESTIONS = (
    "how do I change the delivery address for order {n}?",
    "what are your opening hours for store {n}?",
    "come posso aggiornare il metodo di pagamento del contratto {n}?",
)
PRAISE = ("thanks a lot, support was great on ticket {n}!", "grazie mille, servizio ottimo {n}")
REPLIES = (
    "Sorry to hear that! Could you send us your order number by DM?",
    "We are looking into it and will update you shortly.",
    "Done: the refund is on its way. Anything else we can do?",
)
CHANNELS = ("social", "email", "chat", "web_form", "phone")
START_MS = 1_763_900_000_000  # 2025-11-23: the default anchor, so the set is the same every run
SPACING_MS = 3 * 60_000  # a new thread every 3 minutes


def generate(n_threads: int = 120, seed: int = 7, start_ms: int = START_MS) -> list[dict[str, Any]]:
    """The demo set; ``start_ms`` anchors its first thread (the shape never changes)."""
    rng = random.Random(seed)
    contacts: list[dict[str, Any]] = []
    for i in range(n_threads):
        brand = rng.choice(BRANDS)
        channel = CHANNELS[i % len(CHANNELS)]
        handle = f"customer{i % 80}"
        email = f"{handle}@example.com" if channel == "email" else None
        t = start_ms + i * SPACING_MS
        text = rng.choice(COMPLAINTS + QUESTIONS + PRAISE).format(n=1000 + i)
        session = f"{channel}-{i}" if channel in ("chat", "web_form", "phone") else None
        parent: str | None = None
        turns = rng.choice((1, 2, 2, 3, 4))
        for turn in range(turns):
            source_id = f"demo-{i}-{turn}-in"
            contacts.append(
                _contact(
                    brand, channel, "inbound", handle, email, source_id, t, text, parent, session
                )
            )
            if rng.random() < 0.2:  # left unanswered
                break
            t += rng.randint(2, 90) * 60_000
            reply_id = f"demo-{i}-{turn}-out"
            contacts.append(
                _contact(brand, channel, "outbound", handle, email, reply_id, t,
                         rng.choice(REPLIES), source_id, session)
            )  # fmt: skip
            parent = reply_id
            t += rng.randint(1, 30) * 60_000
            text = rng.choice(("still waiting, any news?", "thanks, that works", "ok, sent it"))
        if i % 25 == 3:  # the same complaint reposted as a new post: a near-duplicate
            contacts.append(
                _contact(brand, "social", "inbound", handle, None, f"demo-{i}-repost",
                         t + 600_000, contacts[-1]["body"].upper() + "!!", None, None)
            )  # fmt: skip
    contacts.append(dict(contacts[0]))  # an exact redelivery
    contacts.extend(malformed(start_ms))
    rng.shuffle(contacts)  # arrival order is not event order
    return contacts


def malformed(at: int = START_MS) -> list[dict[str, Any]]:
    """Contacts that ingest must refuse, each for a different reason."""
    good = _contact("acme", "email", "inbound", "x", None, "bad-0", at, "hello", None, None)
    return [
        {**good, "channel": "fax", "source_id": "bad-1"},
        {**good, "occurred_at": "yesterday", "source_id": "bad-2"},
        {k: v for k, v in good.items() if k != "brand"} | {"source_id": "bad-3"},
        {**good, "direction": "sideways", "source_id": "bad-4"},
        {**good, "occurred_at": 1_700_000_000, "source_id": "bad-5"},  # seconds, not ms
    ]


def _contact(
    brand: str,
    channel: str,
    direction: str,
    handle: str,
    email: str | None,
    source_id: str,
    occurred_at: int,
    body: str,
    in_reply_to: str | None,
    session: str | None,
) -> dict[str, Any]:
    return {
        "source": "demo",
        "source_id": source_id,
        "channel": channel,
        "direction": direction,
        "brand": brand,
        "customer_handle": email or handle,
        "customer_email": email,
        "conversation_ref": session,
        "in_reply_to": in_reply_to,
        "occurred_at": occurred_at,
        "subject": f"Order {source_id}" if channel == "email" else None,
        "body": body,
    }
