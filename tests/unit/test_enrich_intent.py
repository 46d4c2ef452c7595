"""Enrichment on the shipped ascolto/defaults/intents.yaml: intents, their precedence and
matching."""

from __future__ import annotations

import pytest

from streams.rules.enrich import DEFAULT_CONFIG_PATH, Enricher, load_rules
from tests.support.enrich_samples import EN_EMAIL, EN_TWEETS, IT_EMAIL, IT_TWEETS, contact


@pytest.mark.parametrize(("text", "intent"), EN_TWEETS + IT_TWEETS)
def test_intents_of_real_looking_tweets(enricher: Enricher, text: str, intent: str) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


def test_intents_of_emails(enricher: Enricher) -> None:
    # Both mention a refund too: delivery is listed above billing.
    for body, subject in ((EN_EMAIL, "Order 88213 not delivered"), (IT_EMAIL, "Ordine 88213")):
        e = enricher.enrich(contact(body, channel="email", subject=subject))
        assert e["intent"] == "delivery"
        assert e["visibility"] == "private"


# One short message per intent and language, so that each rule is seen to fire.
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("please cancel my subscription", "cancellation"),
        ("vorrei disdire il contratto", "cancellation"),
        ("vorrei annullare il mio ordine", "cancellation"),
        ("the site is down again", "outage"),
        ("il sito è down di nuovo", "outage"),
        ("my parcel never arrived", "delivery"),
        ("il pacco non è mai arrivato", "delivery"),
        ("I need a copy of my invoice", "billing"),
        ("mi serve una copia della fattura", "billing"),
        ("I forgot my password", "account"),
        ("ho dimenticato la password", "account"),
        ("this is unacceptable", "complaint"),
        ("è inaccettabile", "complaint"),
        ("is there a store in Rome", "question"),
        ("c'è un negozio a Roma?", "question"),
        ("well done, kudos to the team", "praise"),
        ("complimenti al team", "praise"),
        ("my name is Anna", "other"),
        ("mi chiamo Anna", "other"),
    ],
)
def test_each_intent_fires_in_english_and_italian(
    enricher: Enricher, text: str, intent: str
) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # cancellation is listed above billing
        ("cancel my subscription, billing is wrong", "cancellation"),
        ("billing is wrong, cancel my subscription", "cancellation"),
        ("voglio disdire l'abbonamento, la fattura è sbagliata", "cancellation"),
        # outage above billing: the payment page crashing is an outage
        ("the payment page keeps crashing", "outage"),
        # delivery above billing
        ("My parcel never arrived, I want a refund", "delivery"),
        # billing above complaint, even when the words are angry
        ("I was charged twice, this is unacceptable", "billing"),
        # complaint above question
        ("why is your service so terrible?", "complaint"),
    ],
)
def test_precedence_order(enricher: Enricher, text: str, intent: str) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


def test_precedence_follows_the_order_in_the_file(enricher: Enricher, tmp_path) -> None:
    import yaml

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    by_name = {e["name"]: e for e in raw["intents"]}
    raw["intents"] = [by_name["billing"]] + [e for e in raw["intents"] if e["name"] != "billing"]
    path = tmp_path / "intents.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    billing_first = Enricher(load_rules(path), detector=enricher.detector, scorer=enricher.scorer)
    text = "cancel my subscription, billing is wrong"
    assert billing_first.enrich(contact(text))["intent"] == "billing"
    assert enricher.enrich(contact(text))["intent"] == "cancellation"


def test_negative_sentiment_makes_a_complaint_only_when_nothing_more_specific(
    enricher: Enricher,
) -> None:
    frustrated = enricher.enrich(contact("This is so frustrating."))
    assert (frustrated["sentiment_label"], frustrated["intent"]) == ("negative", "complaint")
    # only the question rule matches, and the sentiment is negative: complaint
    assert enricher.enrich(contact("Are you serious? This is so frustrating."))["intent"] == (
        "complaint"
    )
    # negative, but billing is listed above complaint
    charged = enricher.enrich(contact("Why was I charged twice this month??"))
    assert (charged["sentiment_label"], charged["intent"]) == ("negative", "billing")
    # Italian sentiment is measured too (docs/sentiment.md)
    furious = enricher.enrich(contact("Sono furioso con voi"))
    assert (furious["sentiment_label"], furious["intent"]) == ("negative", "complaint")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("dov’è il mio ordine", "delivery"),  # typographic apostrophe
        ("perche non e arrivato il pacco", "delivery"),  # no accents
        ("NON FUNZIONA NIENTE", "outage"),  # capitals
        ("the app is\nnot\n working", "outage"),  # line breaks inside a phrase
        ("I bought a new charger", "other"),  # whole words: "charged" is not "charger"
        ("see https://acme.example/help?topic=billing", "other"),  # links are ignored
    ],
)
def test_matching_ignores_case_accents_spacing_and_links(
    enricher: Enricher, text: str, intent: str
) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


def test_quoted_email_history_is_ignored(enricher: Enricher) -> None:
    body = (
        "Thank you for the fast reply, all sorted now.\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Acme Support <support@acme.example> wrote:\n"
        "> Could you please cancel the order and tell us your invoice number?\n"
    )
    e = enricher.enrich(contact(body, channel="email", subject="Re: order 88213"))
    assert e["intent"] == "praise"
    assert e["sentiment_label"] == "positive"
