"""Italian sentiment: the lexicon's forms and the negation, intensifier and contrast rules.

Most cases use a tiny lexicon, so each asserts one rule; the last ones use the shipped file.
"""

from __future__ import annotations

import json

import pytest

from streams.rules.sentiment_it import (
    AFINN_TO_VADER,
    LEXICON_FILE,
    NEGATION_SCALAR,
    ItalianSentiment,
    expand,
    read_lexicon,
)

LEXICON = {"buono": 2, "male": -2, "lento": -2, "problema": -2, "stanco": -2, "gentile": 3}
LEXICON |= {"a caro prezzo": -2, "caro": 1}
SCORER = ItalianSentiment(LEXICON, {"😀": 1.5})


def raw(text: str) -> float:
    """The sum before normalisation, recovered from the compound score (alpha 15)."""
    c = SCORER.compound(text)
    return c * (15 / (1 - c * c)) ** 0.5


def test_regular_forms_match_and_listed_forms_keep_their_value() -> None:
    words, phrases = expand({"buono": 2, "buona": -1, "problema": -2, "stanco": -2})
    assert words["buono"] == 2 * AFINN_TO_VADER
    assert words["buona"] == -1 * AFINN_TO_VADER  # listed: not overwritten by buono's forms
    # a form both derive: the alphabetically first word's value, whatever the input order
    assert words["buoni"] == words["buone"] == -1 * AFINN_TO_VADER
    assert expand({"buona": -1, "buono": 2})[0] == expand({"buono": 2, "buona": -1})[0]
    assert words["problemi"] == words["stanchi"] == -2 * AFINN_TO_VADER
    assert phrases == {}


def test_negation_reverses_within_three_words_and_a_clause() -> None:
    assert raw("buono") == pytest.approx(1.6)
    assert raw("non è buono") == pytest.approx(1.6 * NEGATION_SCALAR)
    assert raw("non è male") > 0
    assert raw("non lo trovo davvero così buono") > 0  # five words away: out of reach
    assert raw("non lo so, buono") > 0  # the comma ends the negation


def test_negative_concord_is_one_negation() -> None:
    assert raw("non è per niente buono") == pytest.approx(raw("non è buono"))
    assert raw("non è mai stato buono") < 0


def test_intensifiers_before_and_after_and_superlatives() -> None:
    assert raw("molto gentile") == pytest.approx(raw("gentile") * 1.25)
    assert raw("gentile davvero") == pytest.approx(raw("gentile") * 1.25)
    assert raw("gentilissimi") == pytest.approx(raw("gentile") * 1.25)
    assert raw("un po' lento") == pytest.approx(raw("lento") * 0.75)
    assert raw("poco gentile") < 0


def test_contrast_weighs_what_follows_ma() -> None:
    assert raw("gentile ma lento") == pytest.approx(2.4 * 0.5 - 1.6 * 1.5)
    assert SCORER.compound("lento ma gentile") > 0


def test_phrases_win_over_their_first_word_and_emoji_count() -> None:
    assert raw("a caro prezzo") == pytest.approx(-1.6)
    assert raw("caro") == pytest.approx(0.8)
    assert raw("😀") == pytest.approx(1.5)
    assert raw("gentile!!!!!") == pytest.approx(2.4 + 3 * 0.292)


def test_text_without_sentiment_words_is_zero() -> None:
    assert SCORER.compound("vorrei il numero della pratica 1234") == 0.0
    assert SCORER.compound("") == 0.0


def test_shipped_lexicon_keeps_its_source_and_licence() -> None:
    with LEXICON_FILE.open(encoding="utf-8") as f:
        header = json.loads(next(f))
    assert header["license"] == "MIT" and "Andrew Sliwinski" in header["notice"]
    entries = read_lexicon()
    assert len(entries) == 2841 and all(-5 <= v <= 5 and v for v in entries.values())


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("il corriere è stato gentilissimo", 1),
        ("non sono affatto contento del servizio", -1),
        ("l'ordine è arrivato in ritardo ed era danneggiato", -1),
        ("a che numero posso chiamare?", 0),
    ],
)
def test_shipped_lexicon_on_ordinary_messages(text: str, sign: int) -> None:
    c = ItalianSentiment.from_file({}).compound(text)
    assert (c > 0.05) - (c < -0.05) == sign
