"""Language of a contact: ISO 639-1 code, or "und" when it cannot be told.

Detection uses lingua (its n-gram models ship inside the wheel, nothing is downloaded).
Building a detector loads those models (about a second), so build one `LanguageDetector`
per process and reuse it.

Speed/accuracy trade-off, measured on tweet-length English and Italian text:
- lingua's high-accuracy mode is right on short texts where its low-accuracy mode is not
  ("Where is my order" -> de, "ok thanks" -> nl), but costs about twice as much per character;
- lingua itself switches to trigrams only (= low-accuracy mode) once a text has 120 letters.
So texts with fewer than `short_text_letters` letters go to the high-accuracy detector and
longer ones to the low-accuracy one; texts are cut to `max_chars` first (a few sentences are
plenty to tell a language, and the cost grows with the length).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

UNDETERMINED = "und"

# Languages the detector chooses among: the brands' markets. A text in any other language gets
# one of these or "und" -- lingua only answers with a language it was built with.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "it", "es", "fr", "de", "pt", "nl")

# Noise that carries no language: links, @handles and e-mail addresses (any word with an @;
# anchored at word starts, so the scan stays linear), numbers.
_NOISE = re.compile(r"https?://\S+|www\.\S+|(?<!\S)[^\s@]*@\S*|\d+")
_LETTER_RUNS = re.compile(r"[^\W\d_]+")
# "en", "EN", "en-US", "it_IT" -> the primary subtag.
_TAG = re.compile(r"([A-Za-z]{2})(?:[-_][A-Za-z0-9]+)*")


#: Fewer letters than this (after removing noise) say nothing about a language.
MIN_LETTERS = 3


def too_short_to_tell(text: str, min_letters: int = MIN_LETTERS) -> bool:
    """Has `text` too few letters to carry a language: emoji, emoticons, "ok", a number, a link?

    Such texts are "und" whatever their language; the other "und" texts have words in a
    language the detector does not know (another script) or cannot tell apart.
    """
    return sum(map(len, _LETTER_RUNS.findall(_NOISE.sub(" ", text)))) < min_letters


def normalize_code(code: str | None) -> str | None:
    """An ISO 639-1 code from a source's language tag, or None if it is not one."""
    if not code:
        return None
    m = _TAG.fullmatch(code.strip())
    return m.group(1).lower() if m else None


class LanguageDetector:
    """Detects the language of short texts among a fixed set. Thread-safe; build once."""

    def __init__(
        self,
        languages: Iterable[str] = DEFAULT_LANGUAGES,
        *,
        min_letters: int = MIN_LETTERS,
        min_relative_distance: float = 0.05,
        min_single_word_confidence: float = 0.5,
        short_text_letters: int = 60,
        max_chars: int = 200,
    ) -> None:
        """
        min_letters: texts with fewer letters (after removing links, @handles, numbers) are
            "und": an emoji, "ok", "k" say nothing about a language.
        min_relative_distance: lingua answers "und" unless the best language beats the next
            by this much; 0.05 turns guesses on ambiguous words ("refund", "Urgent") into
            "und" while every ordinary sentence in the tests stays right.
        min_single_word_confidence: a one-word text needs at least this confidence (0..1):
            "Thanks" (en 0.69), "Grazie" (it 0.72) pass, "Hello" (it 0.36!) is "und".
        short_text_letters: below this many letters use high-accuracy mode (see module doc).
        max_chars: only the first max_chars characters of a text are looked at.
        """
        isos = [getattr(IsoCode639_1, c.upper()) for c in languages]
        langs = [Language.from_iso_code_639_1(i) for i in isos]
        if len(langs) < 2:
            raise ValueError("a language detector needs at least two languages")
        self.languages: tuple[str, ...] = tuple(i.name.lower() for i in isos)
        self.min_letters = min_letters
        self.min_single_word_confidence = min_single_word_confidence
        self.short_text_letters = short_text_letters
        self.max_chars = max_chars
        builder = LanguageDetectorBuilder.from_languages(*langs)
        builder = builder.with_minimum_relative_distance(min_relative_distance)
        self._accurate = builder.with_preloaded_language_models().build()
        # Same models (lingua caches them process-wide), trigrams only.
        builder = LanguageDetectorBuilder.from_languages(*langs)
        builder = builder.with_minimum_relative_distance(min_relative_distance)
        self._fast = builder.with_low_accuracy_mode().with_preloaded_language_models().build()

    def _prepare(self, text: str) -> tuple[str, int, bool]:
        """The text to detect on, its number of letters, and whether it is a single word."""
        text = _NOISE.sub(" ", text[: self.max_chars * 2])[: self.max_chars]
        words = _LETTER_RUNS.findall(text)
        return text, sum(map(len, words)), len(words) == 1

    def _single_word(self, text: str) -> str:
        values = self._accurate.compute_language_confidence_values(text)
        if values and values[0].value >= self.min_single_word_confidence:
            return _code(values[0].language)
        return UNDETERMINED

    def detect(self, text: str) -> str:
        """ISO 639-1 code of `text`, or "und"."""
        text, letters, single_word = self._prepare(text)
        if letters < self.min_letters:
            return UNDETERMINED
        if single_word:
            return self._single_word(text)
        detector = self._accurate if letters < self.short_text_letters else self._fast
        return _code(detector.detect_language_of(text))

    def detect_many(self, texts: Sequence[str]) -> list[str]:
        """Like [detect(t) for t in texts], using lingua's parallel batch API (all cores)."""
        out = [UNDETERMINED] * len(texts)
        short: list[int] = []
        long: list[int] = []
        prepared: list[str] = []
        for i, text in enumerate(texts):
            text, letters, single_word = self._prepare(text)
            prepared.append(text)
            if letters < self.min_letters:
                continue
            if single_word:
                out[i] = self._single_word(text)
            elif letters >= self.short_text_letters:
                long.append(i)
            else:
                short.append(i)
        for detector, idx in ((self._accurate, short), (self._fast, long)):
            if idx:
                found = detector.detect_languages_in_parallel_of([prepared[i] for i in idx])
                for i, lang in zip(idx, found, strict=True):
                    out[i] = _code(lang)
        return out


def _code(lang: Language | None) -> str:
    return lang.iso_code_639_1.name.lower() if lang is not None else UNDETERMINED
