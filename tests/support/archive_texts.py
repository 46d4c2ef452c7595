"""Texts of the generated test archives: complaints, follow-ups and brand replies, and
reposts of a complaint that differ only in case, punctuation, a URL or an @mention."""

from __future__ import annotations

import random
import re
import string

OPENINGS = ("", "hi", "hey", "ugh", "hello", "seriously", "come on,", "help!", "so")
COMPLAINTS = (
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
FOLLOW_UPS = (
    "it is order {n}",
    "I already tried that, reference {n}",
    "still waiting, it has been {h} hours now",
    "DM sent with code {n}",
    "no, the tracking number {n} says delivered",
    "that did not work, error {n} again",
    "ok, and what about the fee of {n} dollars",
    "the store said to contact you, receipt {n}",
)
SELF_FOLLOW_UPS = (
    "also, I paid with the card ending {n}",
    "forgot to add: order {n}",
    "anyone there? reference {n}",
    "and the chat bot just loops, session {n}",
)
CLOSINGS = ("", "!", "?", ". please help", ". what is going on?", ", third time now", " :(")
BRAND_REPLIES = (
    "Sorry to hear that! Please DM us your order number and we'll take a look.",
    "We're on it. Can you confirm the email on the account?",
    "That's not the experience we want for you. Please follow and DM us.",
    "Thanks for waiting, a refund is on its way.",
    "Please try reinstalling the app and let us know if it persists.",
    "We've escalated this to our team, hang tight.",
)
_WORDS = re.compile(r"[a-z]+")


def letters_key(text: str) -> str:
    """Words only: no mentions, URLs, digits or punctuation. Two texts of a customer
    that differ here can never be near-duplicates under any reasonable normaliser."""
    text = re.sub(r"@\w+|https?://\S+", " ", text.lower())
    return " ".join(_WORDS.findall(text))


def variant(text: str, rng: random.Random, other_handle: str | None) -> str:
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
