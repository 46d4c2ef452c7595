"""WindowedVader must give exactly VADER's scores (it only removes VADER's quadratic cost)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from streams.rules.sentiment import SentimentScorer, WindowedVader, label_for

STOCK = SentimentIntensityAnalyzer()
WINDOWED = WindowedVader()

# Words that exercise negation, boosters, idioms, "but", "least", caps, emoticons.
VOCABULARY = [
    "not",
    "never",
    "no",
    "nor",
    "without",
    "doubt",
    "so",
    "this",
    "kind",
    "of",
    "sort",
    "at",
    "least",
    "very",
    "but",
    "good",
    "bad",
    "great",
    "terrible",
    "love",
    "hate",
    "the",
    "shit",
    "bomb",
    "cut",
    "mustard",
    "kiss",
    "death",
    "yeah",
    "right",
    "hand",
    "to",
    "mouth",
    "GOOD",
    "BAD",
    "really",
    "extremely",
    "barely",
    "isn't",
    "don't",
    "can't",
    ":)",
    ":(",
    "😀",
    "😡",
    "!",
    "?",
    ".",
    "refund",
    "order",
    "help",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=60))
def test_windowed_vader_equals_vader(words: list[str]) -> None:
    text = " ".join(words)
    assert WINDOWED.polarity_scores(text) == STOCK.polarity_scores(text)


def test_windowed_vader_equals_vader_on_sentences() -> None:
    for text in [
        "Not the worst thing ever, but I wouldn't say it was very good.",
        "I am not happy at all, this is NOT good!!!",
        "never so good, without doubt the best, kind of bad",
        "no no no, yeah right, kiss of death",
        "At least it is not bad",
    ]:
        assert WINDOWED.polarity_scores(text) == STOCK.polarity_scores(text)


def test_labels_use_vader_thresholds() -> None:
    assert [label_for(x) for x in (-1, -0.05, -0.0499, 0, 0.0499, 0.05, 1)] == [
        "negative",
        "negative",
        "neutral",
        "neutral",
        "neutral",
        "positive",
        "positive",
    ]


def test_long_text_is_cut_at_a_word_boundary() -> None:
    scorer = SentimentScorer(max_chars=20)
    # "awful" starts after character 20: not scored
    assert scorer.score("the order came late, awful", "en").label == "neutral"
    assert scorer.score("awful, the order came late", "en").label == "negative"


def test_languages_other_than_english_and_italian_are_not_measured() -> None:
    scorer = SentimentScorer()
    for language in ("es", "fr", "de"):
        assert scorer.score("terrible awful", language) == (0.0, "neutral", False)
    assert scorer.score("orribile", "it").label == "negative"
