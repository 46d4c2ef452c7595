"""Sentiment of "und" texts: measured by VADER only when there are no words to tell a language by.

Otherwise "und" means words the detector could not place (another script, or Spanish it
could not tell from Italian): VADER would call them neutral, which is "not measured" passed
off as "measured neutral".
"""

from __future__ import annotations

import pytest

from streams.rules.enrich import Enricher
from streams.rules.language import too_short_to_tell
from streams.rules.sentiment import UNSUPPORTED, SentimentScorer

SCORER = SentimentScorer()


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_file()


@pytest.mark.parametrize(
    "text",
    [
        "Очень плохой сервис, заказ не пришёл",
        "注文が届きません。最悪です",
        "No me gusta nada, fatal",
    ],
)
def test_undetermined_words_are_not_measured(enricher: Enricher, text: str) -> None:
    e = enricher.enrich({"channel": "social", "direction": "inbound", "body": text})
    assert e["language"] == "und"
    assert (e["sentiment_score"], e["sentiment_label"], e["sentiment_supported"]) == UNSUPPORTED
    assert e["priority"] == "P4"  # an unmeasured "other": the `unmeasured` row, not `negative`


@pytest.mark.parametrize(
    ("text", "label"),
    [("😍😍", "positive"), (":(", "negative"), (":-( @AcmeHelp https://t.co/x1", "negative")],
)
def test_emoji_and_emoticons_are_measured(text: str, label: str) -> None:
    sentiment = SCORER.score(text, "und")
    assert (sentiment.label, sentiment.supported) == (label, True)


def test_und_with_words_is_not_measured_by_the_scorer() -> None:
    assert SCORER.score("No me gusta nada, fatal", "und") == UNSUPPORTED


@pytest.mark.parametrize(
    ("text", "short"),
    [
        ("", True),
        ("😍😍", True),
        (":-(", True),
        ("ok", True),
        ("@AcmeHelp 4521 https://acme.example/orders/4521", True),
        ("Ужасно", False),
        ("最悪です", False),
        ("fatal", False),
    ],
)
def test_too_short_to_tell(text: str, short: bool) -> None:
    assert too_short_to_tell(text) is short
