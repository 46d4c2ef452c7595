"""Enrichment on the shipped rules: sentiment, measured for English and Italian."""

from __future__ import annotations

import pytest

from streams.rules.enrich import Enricher
from tests.support.enrich_samples import contact


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("worst customer service ever. 3 hours on hold and nobody picked up", "negative"),
        ("This is so frustrating, I hate this app", "negative"),
        ("thanks for the quick help today, Sarah was great!", "positive"),
        ("Love the new update, dark mode finally!", "positive"),
        ("I placed the order on Monday", "neutral"),
        ("The store opens at nine on weekdays", "neutral"),
    ],
)
def test_english_sentiment_labels(enricher: Enricher, text: str, label: str) -> None:
    e = enricher.enrich(contact(text))
    assert (e["sentiment_label"], e["sentiment_supported"]) == (label, True)
    assert -1.0 <= e["sentiment_score"] <= 1.0
    if label == "positive":
        assert e["sentiment_score"] >= 0.05
    elif label == "negative":
        assert e["sentiment_score"] <= -0.05


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("servizio clienti scadente, che vergogna", "negative"),
        ("grazie mille, siete fantastici!", "positive"),
        ("vorrei cambiare l'indirizzo di consegna del mio ordine", "neutral"),
    ],
)
def test_italian_sentiment_is_measured(enricher: Enricher, text: str, label: str) -> None:
    e = enricher.enrich(contact(text))
    assert (e["language"], e["sentiment_label"], e["sentiment_supported"]) == ("it", label, True)


def test_emoji_only_is_scored_by_vader(enricher: Enricher) -> None:
    e = enricher.enrich(contact("😍😍"))
    assert (e["language"], e["sentiment_supported"], e["sentiment_label"]) == (
        "und",
        True,
        "positive",
    )
