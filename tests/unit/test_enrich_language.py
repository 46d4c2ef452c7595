"""Enrichment on the shipped rules: the language of a contact, detected or given."""

from __future__ import annotations

import pytest

from streams.rules.enrich import Enricher
from tests.support.enrich_samples import EN_EMAIL, EN_TWEETS, IT_EMAIL, IT_TWEETS, contact


@pytest.mark.parametrize("text", [t for t, _ in EN_TWEETS] + [EN_EMAIL])
def test_english_is_detected(enricher: Enricher, text: str) -> None:
    assert enricher.enrich(contact(text))["language"] == "en"


@pytest.mark.parametrize("text", [t for t, _ in IT_TWEETS] + [IT_EMAIL])
def test_italian_is_detected(enricher: Enricher, text: str) -> None:
    assert enricher.enrich(contact(text))["language"] == "it"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Mi pedido todavía no ha llegado, ¿pueden ayudarme?", "es"),
        ("Ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?", "fr"),
        ("Meine Bestellung ist immer noch nicht angekommen, können Sie helfen?", "de"),
        ("Minha encomenda ainda não chegou, podem me ajudar?", "pt"),
        ("Mijn bestelling is nog steeds niet aangekomen, kunnen jullie helpen?", "nl"),
        ("Thanks", "en"),
        ("Grazie!", "it"),
        ("ok thanks", "en"),
        ("ok grazie", "it"),
    ],
)
def test_other_languages_and_short_texts(enricher: Enricher, text: str, code: str) -> None:
    assert enricher.enrich(contact(text))["language"] == code


@pytest.mark.parametrize(
    "text",
    [
        "😡😡😡",
        "👍",
        "!!!",
        "",
        "ok",
        "k",
        "@AcmeSupport",
        "@AcmeSupport 😡",
        "Hello",
        "https://t.co/x1Yz",
        "12345",
    ],
)
def test_undeterminable_is_und(enricher: Enricher, text: str) -> None:
    assert enricher.enrich(contact(text))["language"] == "und"


@pytest.mark.parametrize(
    ("given", "kept"), [("it", "it"), ("EN", "en"), ("en-GB", "en"), ("pt_BR", "pt")]
)
def test_language_given_by_the_source_is_kept(enricher: Enricher, given: str, kept: str) -> None:
    # The text is English: the source's word wins, normalised to ISO 639-1.
    assert enricher.enrich(contact("where is my order", language=given))["language"] == kept


def test_language_not_iso_639_1_is_detected_instead(enricher: Enricher) -> None:
    assert enricher.enrich(contact("where is my order", language="english"))["language"] == "en"
