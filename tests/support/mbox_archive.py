"""A small deterministic test mbox with its ground truth (tests.support.archive_truth), its
threads written like the Twitter archive's."""

from __future__ import annotations

import mailbox
import random
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from tests.support.archive_texts import CLOSINGS, COMPLAINTS, FOLLOW_UPS, letters_key, variant
from tests.support.archive_truth import Figures, Post, expected_figures
from tests.support.twitter_archive import START

MBOX_BRAND = "acme"
MBOX_AGENTS = {"support@acme.example": MBOX_BRAND, "@acme.example": MBOX_BRAND}
"""The agent directory for `write_mbox` archives."""


_FIRST = ("Mario", "Giulia", "Ann", "Kwame", "Li", "Sofia", "Omar", "Ines", "Piotr", "Yuki")
_LAST = ("Rossi", "Bianchi", "Smith", "Mensah", "Wei", "Garcia", "Haddad", "Costa", "Nowak")
_AGENTS = ("support@acme.example", "jane.doe@acme.example", "tom@acme.example")
_ZONES = (UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5)))


def _mail_body(rng: random.Random, templates: tuple[str, ...], number: int) -> str:
    body = rng.choice(templates).format(n=number, h=rng.randint(2, 11))
    return f"Hello,\n\n{body[0].upper()}{body[1:]}{rng.choice(CLOSINGS)}\n\nThanks"


class _Mail:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = rng = random.Random(seed)
        firsts, lasts = rng.sample(_FIRST, len(_FIRST)), rng.sample(_LAST, len(_LAST))
        domains = ("Example.NET", "mail.example.org")
        self.customers = [
            (f"{f} {s}", f"{f}.{s}{rng.randint(1, 99)}@{rng.choice(domains)}")
            for f, s in zip(firsts, lasts, strict=False)
        ]
        self.posts: list[Post] = []
        self.answered_at: dict[str, int] = {}
        self.chains: dict[str, list[str]] = {}  # message id -> its References, oldest first
        self.texts_of: dict[str, set[str]] = {}
        self.number = rng.randint(100, 900)

    def add(
        self,
        sender: str,
        inbound: bool,
        at: int,
        text: str,
        parent: Post | None,
        customer: str,
        subject: str,
        near_duplicate: bool = False,
    ) -> Post:
        domain = "mail.example.net" if inbound else "acme.example"
        p = Post(
            f"{self.seed}.{len(self.posts) + 1}@{domain}",
            sender,
            inbound,
            at,
            text,
            parent.id if parent else None,
            MBOX_BRAND,
            customer,
            near_duplicate,
            subject,
        )
        self.chains[p.id] = [*self.chains[parent.id], parent.id] if parent else []
        self.posts.append(p)
        return p

    def customer_body(self, customer: str, templates: tuple[str, ...]) -> str:
        keys = self.texts_of.setdefault(customer, set())
        for _ in range(200):
            self.number += self.rng.randint(1, 97)
            text = _mail_body(self.rng, templates, self.number)
            if letters_key(text) not in keys:
                keys.add(letters_key(text))
                return text
        raise RuntimeError(f"ran out of distinct texts for {customer}")

    def thread(self) -> None:
        rng = self.rng
        name, address = rng.choice(self.customers)
        customer = address.lower()
        t0 = int(START.timestamp()) + rng.randrange(7 * 24 * 3600)
        subject = f"Problem with order {rng.randint(10_000, 99_999)}"
        text = self.customer_body(customer, COMPLAINTS)
        root = self.add(address, True, t0, text, None, customer, subject)
        pending, last = [root], root
        if rng.random() < 0.2:  # the same complaint sent again as a new message
            at = t0 + rng.randint(600, 20 * 3600)
            self.add(address, True, at, variant(text, rng, None), None, customer, subject, True)
        if rng.random() < 0.2:
            return  # never answered
        for turn in range(rng.choice((1, 1, 2, 3))):
            at = last.at + rng.randint(60, 20 * 3600)
            text = f"Dear {name},\n\nWe are looking into it."
            reply = self.add(rng.choice(_AGENTS), False, at, text, last, customer, f"Re: {subject}")
            for message in pending:
                self.answered_at[message.id] = reply.at
            if turn > 0 and rng.random() < 0.5:
                return
            at = reply.at + rng.randint(60, 6 * 3600)
            text = self.customer_body(customer, FOLLOW_UPS)
            last = self.add(address, True, at, text, reply, customer, f"Re: {subject}")
            pending = [last]


def write_mbox(path: str | Path, n_threads: int, seed: int) -> dict[str, Figures]:
    """An mbox of n_threads support threads between customers and acme agents
    (`MBOX_AGENTS`), threaded by In-Reply-To/References, in arrival order.

    Returns the expected per-brand figures (the brand is "acme").
    """
    gen = _Mail(seed)
    for _ in range(n_threads):
        gen.thread()
    as_written = {address.lower(): f"{name} <{address}>" for name, address in gen.customers}
    box = mailbox.mbox(str(path), create=True)
    try:
        for p in sorted(gen.posts, key=lambda p: (p.at, p.id)):
            box.add(_email(p, gen.chains[p.id], as_written[p.customer], gen.rng))
        box.flush()
    finally:
        box.close()
    return expected_figures(gen.posts, gen.answered_at)


def _email(p: Post, references: list[str], customer: str, rng: random.Random) -> EmailMessage:
    message = EmailMessage()
    message["From"] = customer if p.inbound else f"Acme Support <{p.author}>"
    message["To"] = "Acme Support <support@acme.example>" if p.inbound else customer
    message["Subject"] = p.subject or ""
    moment = datetime.fromtimestamp(p.at, UTC).astimezone(rng.choice(_ZONES))
    message["Date"] = format_datetime(moment)
    message["Message-ID"] = f"<{p.id}>"
    if p.parent is not None:
        message["In-Reply-To"] = f"<{p.parent}>"
        message["References"] = " ".join(f"<{r}>" for r in references)
    message.set_content(p.text)
    if rng.random() < 0.3:
        message.add_alternative(f"<html><body><p>{p.text}</p></body></html>", subtype="html")
        message.set_boundary(f"=={p.id}==")  # not a random one: the file is reproducible
    message.set_unixfrom(f"From {p.author} {moment.astimezone(UTC):%a %b %d %H:%M:%S %Y}")
    return message
