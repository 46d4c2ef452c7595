"""A deterministic, realistic workload: contacts as a client posts them to ingest.

The same (size, seed, source) always gives the same contacts in the same order:

- channels mixed like a support desk: social ~40 %, email ~25 %, chat ~15 %, web form ~12 %,
  phone ~8 %; texts as long as on each channel (tweets up to 280 characters, e-mails of a
  few paragraphs, some quoting the history, short chat lines, phone-call notes);
- threads of several turns, agent replies pointing at their parent (``in_reply_to``, the
  e-mail ``references`` chain, the chat/ticket/call ``conversation_ref``), some closed;
- a customer population where a few customers write a lot (a skewed draw), mostly to one brand;
- event time advancing ``CONTACTS_PER_DAY`` a day from a fixed day, arrival a little after
  event time, ``LATE_RATE`` of contacts arriving hours late, so replies overtake their parents;
- ``DUPLICATE_RATE`` exact redeliveries, ``NEAR_DUPLICATE_RATE`` of social complaints
  reposted with another case or punctuation, ``MALFORMED_RATE`` contacts that ingest refuses.

Contacts are produced lazily (``Workload.contacts()``): a soak-size workload never sits in
memory as dicts. ``Workload.summary`` holds the counts once the iteration has finished.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.workload_texts import (
    AGENT_REPLIES,
    AGENTS,
    CHAT_AGENT,
    CHAT_LINES,
    CUSTOMER_FOLLOW_UPS,
    EN_DETAILS,
    EN_PROBLEMS,
    IT_DETAILS,
    IT_PROBLEMS,
    NAMES,
    SURNAMES,
    email_body,
    fill,
    tweet,
)

START_MS = 1_748_736_000_000  # 2025-06-01T00:00Z: a fixed day, the same every run
CONTACTS_PER_DAY = 10_000
DUPLICATE_RATE = 0.02
MALFORMED_RATE = 0.01
NEAR_DUPLICATE_RATE = 0.03
LATE_RATE = 0.05
CHANNEL_WEIGHTS = {"social": 40, "email": 25, "chat": 15, "web_form": 12, "phone": 8}
BRANDS = ("acme", "globex", "initech", "umbrella", "hooli", "stark")
MALFORMED_KINDS = (
    "unknown_channel",
    "bad_timestamp",
    "missing_brand",
    "bad_direction",
    "seconds_not_ms",
    "body_not_text",
    "unknown_field",
)

MINUTE = 60_000
HOUR = 60 * MINUTE


@dataclass
class Summary:
    """What the workload holds; filled while it is iterated."""

    size: int = 0  # contacts posted, all kinds
    valid: int = 0  # ingest accepts these (exact duplicates included)
    unique: int = 0  # distinct valid contacts (documents in Elasticsearch)
    duplicates: int = 0  # exact redeliveries
    near_duplicates: int = 0
    malformed: int = 0  # ingest refuses these
    threads: int = 0
    customers: int = 0
    late: int = 0
    last_occurred_ms: int = 0  # the latest event time of a valid contact
    channels: Counter[str] = field(default_factory=Counter)
    body_chars: dict[str, list[int]] = field(default_factory=dict)  # channel -> [sum, count, max]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["channels"] = dict(sorted(self.channels.items()))
        out["mean_body_chars"] = {
            ch: round(s / n) for ch, (s, n, _) in sorted(self.body_chars.items()) if n
        }
        out["max_body_chars"] = {ch: m for ch, (_, _, m) in sorted(self.body_chars.items())}
        del out["body_chars"]
        return out


class Workload:
    """``size`` contacts (duplicates and malformed ones included) from ``seed``.

    ``source`` goes into every contact (the contact id derives from source and source_id):
    two workloads with different sources never share a contact. Event time starts at
    ``start_ms``: a workload that continues another starts after its ``last_occurred_ms``.
    """

    def __init__(
        self, size: int, seed: int = 1, source: str = "bench", start_ms: int = START_MS
    ) -> None:
        if size < 1:
            raise ValueError("a workload needs at least one contact")
        self.size = size
        self.seed = seed
        self.source = source
        self.start_ms = start_ms
        self.n_customers = max(20, size // 6)
        self.summary = Summary()

    def contacts(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.seed)
        summary = self.summary = Summary(customers=self.n_customers)
        pending: list[tuple[int, int, dict[str, Any]]] = []  # (arrival ms, seq, contact)
        seq = 0
        t = self.start_ms
        # threads average about 4.5 contacts: space their starts to keep CONTACTS_PER_DAY
        mean_gap_ms = 86_400_000 * 4.5 / CONTACTS_PER_DAY
        emitted = 0
        thread_no = 0
        while emitted < self.size:
            t += int(rng.expovariate(1 / mean_gap_ms))
            for contact in self._thread(rng, thread_no, t):
                delay = rng.randint(200, 30_000)
                if rng.random() < LATE_RATE:
                    delay = rng.randint(10 * MINUTE, 6 * HOUR)
                    summary.late += 1
                heapq.heappush(pending, (contact["occurred_at"] + delay, seq, contact))
                seq += 1
            thread_no += 1
            summary.threads += 1
            while pending and pending[0][0] <= t and emitted < self.size:
                arrival, _, contact = heapq.heappop(pending)
                if contact.get("_duplicate"):
                    contact = {k: v for k, v in contact.items() if k != "_duplicate"}
                    summary.duplicates += 1
                    summary.valid += 1
                else:
                    self._count(contact)
                    if rng.random() < DUPLICATE_RATE:
                        again = dict(contact, _duplicate=True)
                        heapq.heappush(pending, (arrival + rng.randint(1000, HOUR), seq, again))
                        seq += 1
                yield contact
                emitted += 1
                if emitted < self.size and rng.random() < MALFORMED_RATE:
                    yield self._malformed(rng, emitted, t)
                    summary.malformed += 1
                    emitted += 1
        summary.size = emitted

    def _count(self, contact: dict[str, Any]) -> None:
        s = self.summary
        s.valid += 1
        s.unique += 1
        s.channels[contact["channel"]] += 1
        stats = s.body_chars.setdefault(contact["channel"], [0, 0, 0])
        stats[0] += len(contact["body"])
        stats[1] += 1
        stats[2] = max(stats[2], len(contact["body"]))
        s.last_occurred_ms = max(s.last_occurred_ms, contact["occurred_at"])

    # --- one thread ---------------------------------------------------------------------------

    def _thread(self, rng: random.Random, no: int, t0: int) -> list[dict[str, Any]]:
        channel = rng.choices(tuple(CHANNEL_WEIGHTS), weights=tuple(CHANNEL_WEIGHTS.values()))[0]
        customer = int(self.n_customers * rng.random() ** 1.5)  # a few customers write a lot
        brand = BRANDS[customer % len(BRANDS)] if rng.random() < 0.9 else rng.choice(BRANDS)
        italian = customer % 5 == 0
        build = {
            "social": self._social,
            "email": self._email,
            "chat": self._chat,
            "web_form": self._ticket,
            "phone": self._ticket,
        }[channel]
        return build(rng, no, t0, channel, brand, customer, italian)

    def _base(
        self, channel: str, brand: str, customer: int, source_id: str, t: int, **fields: Any
    ) -> dict[str, Any]:
        handle = f"@user{customer}" if channel == "social" else f"user{customer}"
        email = f"user{customer}@mail.example.com" if channel in ("email", "web_form") else None
        contact: dict[str, Any] = {
            "source": self.source,
            "source_id": source_id,
            "channel": channel,
            "direction": "inbound",
            "brand": brand,
            "customer_handle": email or handle,
            "customer_email": email,
            "occurred_at": t,
        }
        contact.update(fields)
        return contact

    def _social(
        self, rng: random.Random, no: int, t: int, channel: str, brand: str, cust: int, it: bool
    ) -> list[dict[str, Any]]:
        out = []
        sid = f"{self.seed}-{no}"
        text = tweet(rng, brand, it)
        parent: str | None = None
        for turn in range(rng.choice((1, 1, 2, 2, 3, 4))):
            cid = f"{sid}-{turn}-in"
            out.append(self._base(channel, brand, cust, cid, t, body=text, in_reply_to=parent))
            if turn == 0 and rng.random() < NEAR_DUPLICATE_RATE:
                repost = text.upper() if rng.random() < 0.5 else text.rstrip("!?. ") + "!!!"
                self.summary.near_duplicates += 1
                at = t + rng.randint(5, 600) * 1000
                out.append(self._base(channel, brand, cust, f"{sid}-repost", at, body=repost))
            if rng.random() < 0.15:
                break  # never answered
            t += rng.randint(1, 240) * MINUTE
            reply = fill(rng, rng.choice(AGENT_REPLIES))
            body = f"@user{cust} {reply} ^{rng.choice(AGENTS)[:2].upper()}"
            rid = f"{sid}-{turn}-out"
            out.append(
                self._base(
                    channel, brand, cust, rid, t, body=body, direction="outbound", in_reply_to=cid
                )
            )
            parent = rid
            t += rng.randint(1, 180) * MINUTE
            text = f"@{brand.capitalize()}Support " + fill(rng, rng.choice(CUSTOMER_FOLLOW_UPS))
        return out

    def _email(
        self, rng: random.Random, no: int, t: int, channel: str, brand: str, cust: int, it: bool
    ) -> list[dict[str, Any]]:
        out = []
        sid = f"<{self.seed}.{no}@mail.example.com>"
        subject = fill(rng, rng.choice(IT_PROBLEMS if it else EN_PROBLEMS)).capitalize()
        name = f"{NAMES[cust % len(NAMES)]} {SURNAMES[cust % len(SURNAMES)]}"
        body = email_body(rng, name, it)
        refs: list[str] = []
        for turn in range(rng.choice((1, 1, 2, 2, 3))):
            cid = f"{sid}-{turn}-in" if turn else sid
            out.append(
                self._base(
                    channel,
                    brand,
                    cust,
                    cid,
                    t,
                    body=body,
                    subject=("Re: " if turn else "") + subject,
                    in_reply_to=refs[-1] if refs else None,
                    references=list(refs),
                )
            )
            refs.append(cid)
            if rng.random() < 0.2:
                break
            t += rng.randint(10, 24 * 60) * MINUTE
            agent = rng.choice(AGENTS)
            reply = (
                f"Dear {name},\n\n{fill(rng, rng.choice(AGENT_REPLIES))}\n\n"
                f"{fill(rng, rng.choice(EN_DETAILS))}\n\nKind regards,\n{agent}\n"
                f"{brand.capitalize()} Customer Care"
            )
            rid = f"<{self.seed}.{no}.{turn}@{brand}.example>"
            out.append(
                self._base(
                    channel,
                    brand,
                    cust,
                    rid,
                    t,
                    body=reply,
                    direction="outbound",
                    subject=f"Re: {subject}",
                    in_reply_to=refs[-1],
                    references=list(refs),
                )
            )
            refs.append(rid)
            t += rng.randint(30, 48 * 60) * MINUTE
            body = email_body(rng, name, it, quoting=reply)
        return out

    def _chat(
        self, rng: random.Random, no: int, t: int, channel: str, brand: str, cust: int, it: bool
    ) -> list[dict[str, Any]]:
        out = []
        session = f"chat-{self.seed}-{no}"
        agent = rng.choice(AGENTS)
        for turn in range(rng.randint(2, 8)):
            inbound = turn % 2 == 0
            lines = CHAT_LINES if inbound else CHAT_AGENT
            body = fill(rng, rng.choice(lines)).replace("{a}", agent)
            out.append(
                self._base(
                    channel,
                    brand,
                    cust,
                    f"{session}-{turn}",
                    t,
                    body=body,
                    direction="inbound" if inbound else "outbound",
                    conversation_ref=session,
                )
            )
            t += rng.randint(5, 180) * 1000
        if rng.random() < 0.3:
            out.append(
                self._base(
                    channel,
                    brand,
                    cust,
                    f"{session}-close",
                    t,
                    body="Chat closed",
                    direction="outbound",
                    kind="close",
                    conversation_ref=session,
                )
            )
        return out

    def _ticket(
        self, rng: random.Random, no: int, t: int, channel: str, brand: str, cust: int, it: bool
    ) -> list[dict[str, Any]]:
        """A web form or a phone call: a ticket with a description, answers and notes."""
        out = []
        prefix = "ticket" if channel == "web_form" else "call"
        ref = f"{prefix}-{self.seed}-{no}"
        details = IT_DETAILS if it else EN_DETAILS
        n_details = rng.randint(1, 4) if channel == "web_form" else rng.randint(3, 10)
        problem = fill(rng, rng.choice(IT_PROBLEMS if it else EN_PROBLEMS))
        body = " ".join(
            [problem.capitalize() + "."]
            + [fill(rng, rng.choice(details)) for _ in range(n_details)]
        )
        if channel == "phone":
            body = f"Call notes ({rng.randint(2, 40)} min): customer reports that {body}"
        subject = problem.capitalize() if channel == "web_form" else None
        for turn in range(rng.choice((1, 2, 2, 3))):
            out.append(
                self._base(
                    channel,
                    brand,
                    cust,
                    f"{ref}-{turn}-in",
                    t,
                    body=body,
                    subject=subject,
                    conversation_ref=ref,
                )
            )
            if rng.random() < 0.2:
                break
            t += rng.randint(5, 12 * 60) * MINUTE
            answer = fill(rng, rng.choice(AGENT_REPLIES)) + " " + fill(rng, rng.choice(details))
            out.append(
                self._base(
                    channel,
                    brand,
                    cust,
                    f"{ref}-{turn}-out",
                    t,
                    body=answer,
                    direction="outbound",
                    conversation_ref=ref,
                )
            )
            t += rng.randint(10, 24 * 60) * MINUTE
            body = fill(rng, rng.choice(CUSTOMER_FOLLOW_UPS))
        if rng.random() < 0.25:
            out.append(
                self._base(
                    channel,
                    brand,
                    cust,
                    f"{ref}-close",
                    t + MINUTE,
                    body="Ticket closed",
                    direction="outbound",
                    kind="close",
                    conversation_ref=ref,
                )
            )
        return out

    def _malformed(self, rng: random.Random, no: int, t: int) -> dict[str, Any]:
        kind = MALFORMED_KINDS[no % len(MALFORMED_KINDS)]
        good = self._base("email", "acme", no, f"bad-{self.seed}-{no}", t, body="hello?")
        broken: dict[str, Any] = {
            "unknown_channel": {**good, "channel": "fax"},
            "bad_timestamp": {**good, "occurred_at": "yesterday"},
            "missing_brand": {k: v for k, v in good.items() if k != "brand"},
            "bad_direction": {**good, "direction": "sideways"},
            "seconds_not_ms": {**good, "occurred_at": t // 1000},
            "body_not_text": {**good, "body": rng.randint(1, 9)},
            "unknown_field": {**good, "sentiment": "angry"},
        }[kind]
        return broken
