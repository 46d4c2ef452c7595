"""Enrichment on the shipped rules: visibility, and the priority table over intent,
sentiment, tier and visibility."""

from __future__ import annotations

import itertools

import pytest

from streams.rules.enrich import DEFAULT_CONFIG_PATH, Enricher, load_rules
from streams.rules.intent import INTENTS
from streams.rules.priority import UNMEASURED, visibility
from tests.support.enrich_samples import contact


@pytest.mark.parametrize(
    ("channel", "attributes", "expected"),
    [
        ("social", {}, "public"),
        ("social", None, "public"),
        ("social", {"private": "true"}, "private"),
        ("social", {"dm": "true"}, "private"),
        ("social", {"dm": "True"}, "private"),
        ("social", {"dm": "false", "private": "false"}, "public"),
        ("email", {}, "private"),
        ("chat", {}, "private"),
        ("web_form", {}, "private"),
        ("phone", {}, "private"),
    ],
)
def test_visibility(channel: str, attributes, expected: str) -> None:
    assert visibility(channel, attributes) == expected


TIERS = ("vip", "standard", None)
SENTIMENTS = ("negative", "neutral", "positive", UNMEASURED)


def _p(priority: str | None) -> int:
    assert priority is not None
    return int(priority[1])  # P1 -> 1: smaller is more urgent


def test_priority_grid_properties_of_the_shipped_table() -> None:
    table = load_rules(DEFAULT_CONFIG_PATH).priority
    intents = [i for i in INTENTS]
    for intent, sentiment, tier in itertools.product(intents, SENTIMENTS, TIERS):
        public = _p(table.priority(intent, sentiment, tier, "public"))
        private = _p(table.priority(intent, sentiment, tier, "private"))
        # public outranks private: strictly, unless both are already P1 or still P4
        assert public < private or public == private in (1, 4), (intent, sentiment, tier)
        if intent == "complaint":
            assert public < private, (sentiment, tier)
    for intent, sentiment, vis in itertools.product(intents, SENTIMENTS, ("public", "private")):
        vip = _p(table.priority(intent, sentiment, "vip", vis))
        standard = _p(table.priority(intent, sentiment, "standard", vis))
        assert vip < standard or vip == standard in (1, 4), (intent, sentiment, vis)
        assert table.priority(intent, sentiment, None, vis) == table.priority(
            intent, sentiment, "standard", vis
        )
        if intent == "complaint":
            assert vip < standard, (sentiment, vis)
    for intent in ("outage", "cancellation"):
        for sentiment, tier, vis in itertools.product(SENTIMENTS, TIERS, ("public", "private")):
            assert _p(table.priority(intent, sentiment, tier, vis)) <= 2
    # a private, standard, neutral complaint is the lowest complaint; public vip negative the top
    assert table.priority("complaint", "neutral", "standard", "private") == "P4"
    assert table.priority("complaint", "negative", "vip", "public") == "P1"


def test_public_complaint_outranks_the_same_complaint_in_private(enricher: Enricher) -> None:
    text = "worst customer service ever. 3 hours on hold and nobody picked up"
    public = enricher.enrich(contact(text), tier="standard")
    dm = enricher.enrich(contact(text, attributes={"dm": "true"}), tier="standard")
    email = enricher.enrich(contact(text, channel="email"), tier="standard")
    assert public["intent"] == dm["intent"] == email["intent"] == "complaint"
    assert (public["visibility"], dm["visibility"]) == ("public", "private")
    assert _p(public["priority"]) < _p(dm["priority"]) == _p(email["priority"])


def test_vip_outranks_standard(enricher: Enricher) -> None:
    for text in ("worst customer service ever", "servizio pessimo, che vergogna"):
        vip = enricher.enrich(contact(text, channel="email"), tier="vip")
        standard = enricher.enrich(contact(text, channel="email"), tier="standard")
        unknown = enricher.enrich(contact(text, channel="email"), tier=None)
        assert _p(vip["priority"]) < _p(standard["priority"]) == _p(unknown["priority"])
    gold = enricher.enrich(contact("worst customer service ever"), tier="Gold")
    assert gold["priority"] == enricher.enrich(contact("worst customer service ever"))["priority"]


def test_outage_and_cancellation_rank_high(enricher: Enricher) -> None:
    for text in (
        "the site is down again",
        "il sito è down",
        "how do I cancel my subscription",
        "voglio disdire l'abbonamento",
    ):
        e = enricher.enrich(contact(text, channel="email"), tier="standard")
        assert e["intent"] in ("outage", "cancellation")
        assert e["priority"] in ("P1", "P2")
    praise = enricher.enrich(contact("thanks for the quick help!", channel="email"))
    assert praise["priority"] == "P4"
