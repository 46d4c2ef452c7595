"""A deterministic test Twitter support CSV with its ground truth (tests.support.archive_truth):
the expected figures come from what the generator decided while writing the threads.

    python -m tests.support.twitter_archive N_MESSAGES SEED OUT.csv
writes an archive and prints its expected figures as JSON.
"""

from __future__ import annotations

import csv
import io
import json
import random
import string
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.support.archive_texts import (
    BRAND_REPLIES,
    CLOSINGS,
    COMPLAINTS,
    FOLLOW_UPS,
    OPENINGS,
    SELF_FOLLOW_UPS,
    letters_key,
    variant,
)
from tests.support.archive_truth import Figures, Post, expected_figures

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
            opening = rng.choice(OPENINGS)
            text = " ".join(p for p in (opening, body) if p) + rng.choice(CLOSINGS)
            mention = brand.lower() if rng.random() < 0.1 else brand
            text = f"@{mention} {text}"
            key = letters_key(text)
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
        text = f"@{customer} {self.rng.choice(BRAND_REPLIES)} ^{signature}"
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
            self.customer_text(customer, brand, COMPLAINTS),
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
                text = variant(root.text, rng, mention)
                self.post(customer, True, at, text, None, brand, customer, near_duplicate=True)
        last = root
        if self.budget > 0 and rng.random() < 0.1:
            at = last.at + rng.randint(30, 1800)
            text = self.customer_text(customer, brand, SELF_FOLLOW_UPS)
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
            text = self.customer_text(customer, brand, FOLLOW_UPS)
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
        expected=expected_figures(gen.posts, gen.answered_at),
        posts={p.id: p for p in gen.posts},
        answered_at=dict(gen.answered_at),
        brands=sorted(gen.brands),
        repeated_rows=repeated,
    )


def main(argv: list[str]) -> int:
    n, seed, out = int(argv[0]), int(argv[1]), argv[2]
    archive = generate(n, seed)
    archive.write(out)
    print(json.dumps({b: asdict(f) for b, f in archive.expected.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
