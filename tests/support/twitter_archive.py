"""Deterministic test archives with ground truth: a Twitter support CSV and a small mbox.

The expected figures come from what the generator itself decided while writing the
threads (which brand reply answered which customer message, and when), never from
re-running pipeline logic over the output.

Definitions the expected figures follow (the pipeline implements the same):
- messages: inbound customer messages (a row repeated with the same id counts once);
- duplicates: near-duplicates: the same customer posting the same complaint again
  as a new message (not a reply) within 24 h, differing only in case, punctuation,
  an added URL or @mention. Counted in messages; not owed an answer;
- a brand reply answers every still-unanswered owed customer message among its
  ancestors (earliest reply wins); response time = reply time - message time;
- answered + unanswered = owed = messages - duplicates.

    python -m tests.support.twitter_archive N_MESSAGES SEED OUT.csv
writes an archive and prints its expected figures as JSON.
"""

from __future__ import annotations

import csv
import io
import json
import mailbox
import random
import re
import string
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import numpy

COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
BRAND_POOL = (
    "AcmeSupport",
    "GlobexHelp",
    "InitechCares",
    "UmbrellaAir",
    "HooliSupport",
    "StarkMobile",
    "WayneTelecom",
)
START = datetime(2017, 10, 1, tzinfo=UTC)
# Threads start within 20 days and last a few at most, so a customer's whole history fits in
# the worker's default retention (30 days). Beyond it the pipeline forgets old conversations,
# and a shuffled archive's figures would depend on the order its rows arrive in (at 30 days,
# seed 4000 left two answered messages of a customer's first thread unanswered).
SPAN_SECONDS = 20 * 24 * 3600
NEAR_DUPLICATE_WINDOW = 24 * 3600

MBOX_BRAND = "acme"
MBOX_AGENTS = {"support@acme.example": MBOX_BRAND, "@acme.example": MBOX_BRAND}
"""The agent directory for `write_mbox` archives."""


@dataclass
class Figures:
    """Per-brand ground truth. response_times in seconds, ascending."""

    messages: int = 0
    duplicates: int = 0
    answered: int = 0
    unanswered: int = 0
    response_times: list[int] = field(default_factory=list)
    p50_seconds: float | None = None
    p90_seconds: float | None = None


@dataclass(frozen=True)
class Post:
    """One generated message, as the generator meant it."""

    id: str
    author: str
    inbound: bool
    at: int  # epoch seconds
    text: str
    parent: str | None
    brand: str
    customer: str
    near_duplicate: bool = False
    subject: str | None = None  # email only


@dataclass
class Archive:
    csv_text: str
    expected: dict[str, Figures]
    posts: dict[str, Post]  # one per distinct tweet id
    answered_at: dict[str, int]  # customer tweet id -> epoch seconds of the reply answering it
    brands: list[str]
    repeated_rows: int  # rows written twice (exact duplicates)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.csv_text, encoding="utf-8", newline="")
        return path


# --- texts -----------------------------------------------------------------------------------

_OPENINGS = ("", "hi", "hey", "ugh", "hello", "seriously", "come on,", "help!", "so")
_COMPLAINTS = (
    "my order {n} never arrived",
    "I was charged twice for order {n}",
    "the app keeps crashing at login, ticket {n}",
    "my flight {n} got cancelled and nobody called me",
    "still no refund for booking {n}",
    'package {n} shows "delivered" but it is not here',
    "I can't reset my password, case {n}",
    "my internet has been down since {h} o'clock, account {n}",
    "invoice {n} has the wrong amount on it",
    "the wifi on train {n} does not work at all",
    "you cancelled my subscription {n} without asking",
    "my phone bill {n} doubled this month,\nwhy?",
    "the replacement part {n} is the wrong size",
    "waited {h} hours on hold about claim {n}",
    "the coupon {n} is rejected at checkout",
)
_FOLLOW_UPS = (
    "it is order {n}",
    "I already tried that, reference {n}",
    "still waiting, it has been {h} hours now",
    "DM sent with code {n}",
    "no, the tracking number {n} says delivered",
    "that did not work, error {n} again",
    "ok, and what about the fee of {n} dollars",
    "the store said to contact you, receipt {n}",
)
_SELF_FOLLOW_UPS = (
    "also, I paid with the card ending {n}",
    "forgot to add: order {n}",
    "anyone there? reference {n}",
    "and the chat bot just loops, session {n}",
)
_CLOSINGS = ("", "!", "?", ". please help", ". what is going on?", ", third time now", " :(")
_BRAND_REPLIES = (
    "Sorry to hear that! Please DM us your order number and we'll take a look.",
    "We're on it. Can you confirm the email on the account?",
    "That's not the experience we want for you. Please follow and DM us.",
    "Thanks for waiting, a refund is on its way.",
    "Please try reinstalling the app and let us know if it persists.",
    "We've escalated this to our team, hang tight.",
)
_WORDS = re.compile(r"[a-z]+")


def _letters_key(text: str) -> str:
    """Words only: no mentions, URLs, digits or punctuation. Two texts of a customer
    that differ here can never be near-duplicates under any reasonable normaliser."""
    text = re.sub(r"@\w+|https?://\S+", " ", text.lower())
    return " ".join(_WORDS.findall(text))


def _variant(text: str, rng: random.Random, other_handle: str | None) -> str:
    """The same complaint reposted: other case, punctuation, an added URL or @mention
    (no @mention without other_handle). Never the same text."""
    kinds = ("case", "punctuation", "url") + (("mention",) if other_handle else ())
    original = text
    while text == original:
        changes = sorted(rng.sample(kinds, rng.choice((1, 2))), key=kinds.index)  # case first
        text = _change(original, rng, changes, other_handle)
    return text


def _change(text: str, rng: random.Random, changes: list[str], other_handle: str | None) -> str:
    for change in changes:
        if change == "case":
            text = rng.choice((text.upper(), text.lower()))
        elif change == "punctuation":
            text = text.rstrip(".!?:() ") + rng.choice(("!!!", "??", "...", " !!"))
        elif change == "url":
            token = "".join(rng.choices(string.ascii_letters + string.digits, k=10))
            text = f"{text} https://t.co/{token}"
        else:
            text = f"{text} @{other_handle}"
    return text


# --- the Twitter archive ---------------------------------------------------------------------


class _Twitter:
    def __init__(self, n_messages: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.budget = n_messages
        rng = self.rng
        self.brands = rng.sample(BRAND_POOL, rng.randint(3, 5))
        n_customers = max(5, n_messages // 3)
        self.customers = [str(c) for c in rng.sample(range(100_000, 1_000_000), n_customers)]
        self.posts: list[Post] = []
        self.answered_at: dict[str, int] = {}
        self.used_ids: set[int] = set()
        self.texts_of: dict[str, set[str]] = {}  # customer -> letters keys of their texts
        self.number = rng.randint(1000, 5000)  # unique numbers for texts

    def new_id(self) -> str:
        while True:
            candidate = self.rng.randrange(1, 40 * (len(self.customers) * 3 + 100))
            if candidate not in self.used_ids:
                self.used_ids.add(candidate)
                return str(candidate)

    def customer_text(self, customer: str, brand: str, templates: tuple[str, ...]) -> str:
        rng = self.rng
        keys = self.texts_of.setdefault(customer, set())
        for _ in range(200):
            self.number += rng.randint(1, 97)
            body = rng.choice(templates).format(n=self.number, h=rng.randint(2, 11))
            opening = rng.choice(_OPENINGS)
            text = " ".join(p for p in (opening, body) if p) + rng.choice(_CLOSINGS)
            mention = brand.lower() if rng.random() < 0.1 else brand
            text = f"@{mention} {text}"
            key = _letters_key(text)
            if key not in keys:
                keys.add(key)
                return text
        raise RuntimeError(f"ran out of distinct texts for customer {customer}")

    def post(
        self,
        author: str,
        inbound: bool,
        at: int,
        text: str,
        parent: Post | None,
        brand: str,
        customer: str,
        near_duplicate: bool = False,
    ) -> Post:
        if inbound:
            self.budget -= 1
        p = Post(
            self.new_id(),
            author,
            inbound,
            at,
            text,
            parent.id if parent else None,
            brand,
            customer,
            near_duplicate,
        )
        self.posts.append(p)
        return p

    def brand_reply(self, brand: str, customer: str, parent: Post, at: int) -> Post:
        signature = "".join(self.rng.sample(string.ascii_uppercase, 2))
        text = f"@{customer} {self.rng.choice(_BRAND_REPLIES)} ^{signature}"
        return self.post(brand, False, at, text, parent, brand, customer)

    def delay(self) -> int:
        """Brand response delay: mostly minutes, a quarter late (hours); never under 5 s."""
        if self.rng.random() < 0.25:
            return self.rng.randint(2 * 3600, 20 * 3600)
        return self.rng.randint(5, 45 * 60)

    def thread(self) -> None:
        rng = self.rng
        brand, customer = rng.choice(self.brands), rng.choice(self.customers)
        t0 = int(START.timestamp()) + rng.randrange(SPAN_SECONDS)
        root = self.post(
            customer,
            True,
            t0,
            self.customer_text(customer, brand, _COMPLAINTS),
            None,
            brand,
            customer,
        )
        pending = [root]  # owed customer messages not answered yet
        if self.budget > 0 and rng.random() < 0.08:
            for _ in range(min(self.budget, rng.choice((1, 1, 2)))):
                at = t0 + rng.randint(600, 20 * 3600)
                mention = rng.choice(self.customers)
                mention = "friend" if mention == customer else mention
                text = _variant(root.text, rng, mention)
                self.post(customer, True, at, text, None, brand, customer, near_duplicate=True)
        last = root
        if self.budget > 0 and rng.random() < 0.1:
            at = last.at + rng.randint(30, 1800)
            text = self.customer_text(customer, brand, _SELF_FOLLOW_UPS)
            last = self.post(customer, True, at, text, last, brand, customer)
            pending.append(last)
        if rng.random() < 0.15:
            return  # never answered
        turns = rng.choice((1, 1, 1, 2, 2, 3, 4))
        for turn in range(turns):
            reply = self.brand_reply(brand, customer, last, last.at + self.delay())
            for message in pending:
                self.answered_at[message.id] = reply.at
            pending = []
            if rng.random() < 0.08:  # a second reply to the same tweet ("2/2"): answers nothing new
                reply = self.brand_reply(brand, customer, last, reply.at + rng.randint(5, 90))
            if self.budget <= 0 or (turn == turns - 1 and rng.random() < 0.8):
                return
            at = reply.at + rng.randint(60, 3 * 3600)
            text = self.customer_text(customer, brand, _FOLLOW_UPS)
            last = self.post(customer, True, at, text, reply, brand, customer)
            pending = [last]

    def rows(self) -> tuple[list[list[str]], int]:
        rng = self.rng
        children: dict[str, list[str]] = {}
        for p in self.posts:
            if p.parent is not None:
                children.setdefault(p.parent, []).append(p.id)
        rows = []
        for p in self.posts:
            parent = p.parent
            if parent is not None and rng.random() < 0.4:
                parent += ".0"  # as pandas writes a float column
            rows.append(
                [
                    p.id,
                    p.author,
                    str(p.inbound),
                    _twitter_time(p.at),
                    p.text,
                    ",".join(children.get(p.id, [])),
                    parent or "",
                ]
            )
        repeats = [list(r) for r in rng.sample(rows, max(1, len(rows) // 50))]
        rows.extend(repeats)
        rng.shuffle(rows)
        return rows, len(repeats)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _twitter_time(epoch: int) -> str:
    d = datetime.fromtimestamp(epoch, UTC)
    return f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d:%d %H:%M:%S} +0000 {d.year}"


def _figures(posts: list[Post], answered_at: dict[str, int]) -> dict[str, Figures]:
    expected: dict[str, Figures] = {}
    for p in posts:
        if not p.inbound:
            continue
        figures = expected.setdefault(p.brand, Figures())
        figures.messages += 1
        if p.near_duplicate:
            figures.duplicates += 1
        elif p.id in answered_at:
            figures.answered += 1
            figures.response_times.append(answered_at[p.id] - p.at)
        else:
            figures.unanswered += 1
    for figures in expected.values():
        figures.response_times.sort()
        if figures.response_times:
            figures.p50_seconds = float(numpy.percentile(figures.response_times, 50))
            figures.p90_seconds = float(numpy.percentile(figures.response_times, 90))
    return dict(sorted(expected.items()))


def generate(n_customer_messages: int, seed: int) -> Archive:
    """A shuffled Twitter support CSV holding exactly n_customer_messages distinct customer
    tweets, 3-5 brands, and its expected per-brand figures."""
    if n_customer_messages < 1:
        raise ValueError("n_customer_messages must be at least 1")
    gen = _Twitter(n_customer_messages, seed)
    while gen.budget > 0:
        gen.thread()
    rows, repeated = gen.rows()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return Archive(
        csv_text=out.getvalue(),
        expected=_figures(gen.posts, gen.answered_at),
        posts={p.id: p for p in gen.posts},
        answered_at=dict(gen.answered_at),
        brands=sorted(gen.brands),
        repeated_rows=repeated,
    )


# --- the mbox --------------------------------------------------------------------------------

_FIRST = ("Mario", "Giulia", "Ann", "Kwame", "Li", "Sofia", "Omar", "Ines", "Piotr", "Yuki")
_LAST = ("Rossi", "Bianchi", "Smith", "Mensah", "Wei", "Garcia", "Haddad", "Costa", "Nowak")
_AGENTS = ("support@acme.example", "jane.doe@acme.example", "tom@acme.example")
_ZONES = (UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5)))


def _mail_body(rng: random.Random, templates: tuple[str, ...], number: int) -> str:
    body = rng.choice(templates).format(n=number, h=rng.randint(2, 11))
    return f"Hello,\n\n{body[0].upper()}{body[1:]}{rng.choice(_CLOSINGS)}\n\nThanks"


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
            if _letters_key(text) not in keys:
                keys.add(_letters_key(text))
                return text
        raise RuntimeError(f"ran out of distinct texts for {customer}")

    def thread(self) -> None:
        rng = self.rng
        name, address = rng.choice(self.customers)
        customer = address.lower()
        t0 = int(START.timestamp()) + rng.randrange(7 * 24 * 3600)
        subject = f"Problem with order {rng.randint(10_000, 99_999)}"
        text = self.customer_body(customer, _COMPLAINTS)
        root = self.add(address, True, t0, text, None, customer, subject)
        pending, last = [root], root
        if rng.random() < 0.2:  # the same complaint sent again as a new message
            at = t0 + rng.randint(600, 20 * 3600)
            self.add(address, True, at, _variant(text, rng, None), None, customer, subject, True)
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
            text = self.customer_body(customer, _FOLLOW_UPS)
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
    return _figures(gen.posts, gen.answered_at)


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


def main(argv: list[str]) -> int:
    n, seed, out = int(argv[0]), int(argv[1]), argv[2]
    archive = generate(n, seed)
    archive.write(out)
    print(json.dumps({b: asdict(f) for b, f in archive.expected.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
