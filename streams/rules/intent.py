"""Intent of an inbound contact, and whether an agent's message asks the customer something.

Both come from operator-edited rules (ascolto/defaults/intents.yaml, whose header documents the
syntax). This module parses and validates the rules (`parse_intents`, `parse_asks_customer`,
raising `RuleError` with the location of the bad entry) and compiles them into matchers.

Resolution rule (documented for operators in the yaml): intents are listed in precedence
order; a contact gets the FIRST listed intent with any keyword or pattern found anywhere in
its text, so "cancel my subscription, billing is wrong" is a cancellation when cancellation is
listed above billing. An intent with `when_sentiment: negative` (complaint) also counts as
found when the sentiment label is negative -- at its own place in the order, so a more
specific intent listed above it still wins. An intent with `negated_by` words does not count
a keyword or pattern found right after one of them ("non è ottimo" is no praise). Nothing
found: "other".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args

Intent = Literal[
    "complaint",
    "question",
    "billing",
    "delivery",
    "outage",
    "account",
    "cancellation",
    "praise",
    "other",
]
INTENTS: Final[tuple[Intent, ...]] = get_args(Intent)
FALLBACK: Final[Intent] = "other"

_SENTIMENT_LABELS = ("negative", "neutral", "positive")
_INTENT_KEYS = frozenset(
    {"name", "description", "keywords", "patterns", "when_sentiment", "negated_by"}
)
_TERMS_KEYS = frozenset({"keywords", "patterns"})
_ASKS_KEYS = frozenset({"requests", "ignore"})
_URL = re.compile(r"https?://\S+|www\.\S+")


class RuleError(ValueError):
    """An invalid rule; the message names where (e.g. "intents[2] (billing)") and what."""


def check_keys(raw: object, allowed: frozenset[str], where: str) -> Mapping[str, object]:
    """`raw` if it is a mapping with no key outside `allowed`, else a RuleError.

    where: the section's place in the rules file ("priority", "intents[2] (billing)"), or ""
    for the file's top level.
    """
    keys = ", ".join(sorted(allowed))
    if not isinstance(raw, Mapping):
        what = where or "the file"
        raise RuleError(f"{what} must be a mapping with keys {keys}, got {type(raw).__name__}")
    unknown = ", ".join(sorted(str(k) for k in raw if k not in allowed))
    if unknown:
        scope = f"{where}: unknown" if where else "unknown top-level"
        raise RuleError(f"{scope} key(s) {unknown} (allowed: {keys})")
    return raw


# -- text normalisation -------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def fold(text: str) -> str:
    """Text as the rules see it: accents dropped (è -> e), typographic apostrophes -> '.

    Applied to both the rules and the text, so "non è arrivato" also matches "non e' arrivato"
    written without accents, and "can’t" matches "can't".
    """
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def prepare(text: str) -> str:
    """The form of a text the matchers expect: no links (their '?' is not a question, their
    words are not the customer's), folded, lower case (matching lower-case text without
    re.IGNORECASE is several times faster)."""
    return fold(_URL.sub(" ", text)).lower()


# -- keywords ------------------------------------------------------------------------------

_KEYWORD_WORD = re.compile(r"[^*\s]+\*?")


def keyword_atoms(keyword: str) -> list[str]:
    """Regex pieces of one keyword, in order: whole words, any whitespace between words, a *
    at the end of a word = any ending ("rimbors*" matches rimborso, rimborsi, rimborsare)."""
    words = fold(keyword).lower().split()
    atoms: list[str] = []
    if re.match(r"\w", words[0]):
        atoms.append(r"\b")
    for i, word in enumerate(words):
        if i:
            atoms.append(r"\s+")
        atoms.extend(re.escape(ch) for ch in word.rstrip("*"))
        if word.endswith("*"):
            atoms.append(r"\w*")
        elif i == len(words) - 1 and re.search(r"\w$", word):
            atoms.append(r"\b")
    return atoms


def keywords_regex(keywords: Sequence[str]) -> str:
    """One regex source matching any of `keywords` (lower-case text), as a prefix tree: shared
    beginnings are tested once, so the cost hardly grows with the number of keywords."""
    root: dict[str, dict] = {}
    for keyword in keywords:
        node = root
        for atom in keyword_atoms(keyword):
            node = node.setdefault(atom, {})
        node[""] = {}  # a keyword ends here

    def emit(node: dict[str, dict]) -> str:
        if "" in node:  # matching only asks "is there a keyword here": the shortest will do
            return ""
        branches = [atom + emit(child) for atom, child in node.items()]
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"

    return emit(root)


# -- rule parsing -------------------------------------------------------------------------


def _strings(raw: object, where: str, what: str) -> list[tuple[str, str]]:
    """(location, string) for a list of non-empty strings given as a list or {language: list}.
    The location names the entry for error messages: "intents[3] (billing): patterns.it"."""
    if raw is None:
        return []
    groups: list[tuple[str, object]]
    if isinstance(raw, Mapping):
        groups = [(f"{where}: {what}.{lang}", items) for lang, items in raw.items()]
    else:
        groups = [(f"{where}: {what}", raw)]
    out: list[tuple[str, str]] = []
    for loc, items in groups:
        if not isinstance(items, list):
            raise RuleError(f"{loc} must be a list of strings, got {type(items).__name__}")
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise RuleError(f"{loc}: every entry must be a non-empty string, got {item!r}")
            out.append((loc, item.strip()))
    return out


def _check_pattern(where: str, source: str) -> None:
    try:
        compiled = re.compile(source, re.IGNORECASE)
    except re.error as e:
        raise RuleError(f"{where}: invalid regular expression {source!r}: {e}") from None
    if compiled.groupindex or re.search(r"\\[1-9]|\(\?P=", source):
        raise RuleError(
            f"{where}: pattern {source!r} uses a named group or a back-reference; "
            "use plain (...) or (?:...) groups"
        )
    if compiled.fullmatch(""):
        raise RuleError(f"{where}: pattern {source!r} matches empty text, so it matches always")


@dataclass(frozen=True)
class Terms:
    """The keywords and patterns of one rule entry, validated."""

    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # regex sources, folded

    def __bool__(self) -> bool:
        return bool(self.keywords or self.patterns)

    def keyword_regex(self) -> re.Pattern[str] | None:
        return re.compile(keywords_regex(self.keywords)) if self.keywords else None

    def pattern_regex(self) -> re.Pattern[str] | None:
        return re.compile("|".join(self.patterns), re.IGNORECASE) if self.patterns else None


def _keywords(raw: object, where: str, what: str) -> tuple[str, ...]:
    keywords = _strings(raw, where, what)
    for loc, k in keywords:
        if not all(_KEYWORD_WORD.fullmatch(w) for w in k.split()):
            raise RuleError(f"{loc}: keyword {k!r}: * is only allowed at the end of a word")
    return tuple(k for _, k in keywords)


def _terms(raw: Mapping[str, object], where: str) -> Terms:
    keywords = _keywords(raw.get("keywords"), where, "keywords")
    patterns = _strings(raw.get("patterns"), where, "patterns")
    for loc, p in patterns:
        _check_pattern(loc, p)
    return Terms(keywords, tuple(fold(p) for _, p in patterns))


@dataclass(frozen=True)
class IntentRule:
    name: Intent
    terms: Terms
    when_sentiment: str | None = None
    negated_by: tuple[str, ...] = ()  # keywords that cancel a match just after them


def parse_intents(raw: object) -> list[IntentRule]:
    """The `intents:` list of the rules file, in precedence order."""
    if not isinstance(raw, list) or not raw:
        raise RuleError("intents must be a non-empty list (first listed = highest precedence)")
    rules: list[IntentRule] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        where = f"intents[{i}]" + (f" ({name})" if name else "")
        entry = check_keys(entry, _INTENT_KEYS, where)
        if name not in INTENTS or name == FALLBACK:
            allowed = ", ".join(n for n in INTENTS if n != FALLBACK)
            raise RuleError(f"{where}: name must be one of {allowed}, got {name!r}")
        if name in seen:
            raise RuleError(f"{where}: intent {name!r} is listed twice")
        seen.add(name)
        when = entry.get("when_sentiment")
        if when is not None and when not in _SENTIMENT_LABELS:
            raise RuleError(
                f"{where}: when_sentiment must be one of {', '.join(_SENTIMENT_LABELS)}, "
                f"got {when!r}"
            )
        terms = _terms(entry, where)
        if not terms and when is None:
            raise RuleError(f"{where}: has no keywords, patterns or when_sentiment")
        negated_by = _keywords(entry.get("negated_by"), where, "negated_by")
        rules.append(IntentRule(name, terms, when, negated_by))  # type: ignore[arg-type]
    return rules


# -- matchers -----------------------------------------------------------------------------

# A negation reaches a keyword across at most two words ("non è affatto perfetto"), never
# across punctuation ("no problem, thanks for the help" is thanks).
_NEGATION_REACH = r"(?:[^\w'.,;:!?\n]+[\w']+){0,2}[^\w'.,;:!?\n]+$"
_NEGATION_WINDOW = 80  # characters looked at before a match: enough for three words


def negation_regex(negators: Sequence[str]) -> re.Pattern[str] | None:
    """Matches at the end of a text that negates what comes next; None without negators."""
    return re.compile(keywords_regex(negators) + _NEGATION_REACH) if negators else None


class IntentMatcher:
    """The intent rules compiled for speed, with the precedence rule kept exact.

    1. One regex holding every intent's keywords, as a prefix tree, finds each position where
       some keyword starts (a zero-width lookahead, so overlapping keywords are all seen).
    2. At each such position only, the intents ranked above the best found so far are tried
       in precedence order, each with its own keyword regex anchored there.
    3. Patterns (free regexes) are searched per intent, again only for intents ranked above
       the best found so far.
    A match right after one of its intent's `negated_by` words does not count.
    """

    def __init__(self, rules: Sequence[IntentRule]) -> None:
        self.order: tuple[Intent, ...] = tuple(r.name for r in rules)
        all_keywords = [k for r in rules for k in r.terms.keywords]
        self._scan = re.compile(f"(?={keywords_regex(all_keywords)})") if all_keywords else None
        self._keywords = [r.terms.keyword_regex() for r in rules]
        self._patterns = [r.terms.pattern_regex() for r in rules]
        self._negations = [negation_regex(r.negated_by) for r in rules]
        self._rank_for_sentiment: dict[str, int] = {}
        for rank, r in enumerate(rules):
            if r.when_sentiment is not None:
                self._rank_for_sentiment.setdefault(r.when_sentiment, rank)

    def match(self, text: str, sentiment_label: str | None = None) -> Intent:
        """The intent of `text`, which must come from `prepare`."""
        best = self._rank_for_sentiment.get(sentiment_label or "", len(self.order))
        if self._scan is not None:
            for m in self._scan.finditer(text):
                if best == 0:
                    break
                start = m.start()
                for rank in range(best):
                    regex = self._keywords[rank]
                    if (
                        regex is not None
                        and regex.match(text, start)
                        and not self._negated(rank, text, start)
                    ):
                        best = rank
                        break
        for rank in range(best):
            regex = self._patterns[rank]
            if regex is not None and any(
                not self._negated(rank, text, m.start()) for m in regex.finditer(text)
            ):
                best = rank
                break
        return self.order[best] if best < len(self.order) else FALLBACK

    def _negated(self, rank: int, text: str, start: int) -> bool:
        negation = self._negations[rank]
        return negation is not None and bool(
            negation.search(text, max(0, start - _NEGATION_WINDOW), start)
        )


_SENTENCE_END = re.compile(r"[.!?\n]+")


class AsksCustomerMatcher:
    """Does an agent's message ask the customer something (so the SLA clock waits on them)?

    Sentences with an `ignore` rule (courtesy: "let us know if you need anything else?") are
    dropped; the message asks if what is left matches a `requests` rule ('?' or a request such
    as "please send us your order number").
    """

    def __init__(self, requests: Terms, ignore: Terms) -> None:
        self._requests = [r for r in (requests.keyword_regex(), requests.pattern_regex()) if r]
        self._ignore = [r for r in (ignore.keyword_regex(), ignore.pattern_regex()) if r]

    def _without_ignored_sentences(self, text: str) -> str:
        cuts = []  # (start, end) of each sentence holding an ignore match, in `text`
        for regex in self._ignore:
            for m in regex.finditer(text):
                start = max(text.rfind(c, 0, m.start()) for c in ".!?\n") + 1
                stop = _SENTENCE_END.search(text, m.end())
                cuts.append((start, stop.end() if stop else len(text)))
        if not cuts:
            return text
        kept, pos = [], 0
        for start, end in sorted(cuts):
            kept.append(text[pos:start])
            pos = max(pos, end)
        kept.append(text[pos:])
        return " ".join(kept)

    def asks(self, text: str) -> bool:
        """`text` must come from `prepare`."""
        text = self._without_ignored_sentences(text)
        return any(regex.search(text) for regex in self._requests)


def parse_asks_customer(raw: object) -> AsksCustomerMatcher:
    """The `asks_customer:` section of the rules file."""
    raw = check_keys(raw, _ASKS_KEYS, "asks_customer")
    where = "asks_customer.requests"
    requests = _terms(check_keys(raw.get("requests"), _TERMS_KEYS, where), where)
    if not requests:
        raise RuleError(f"{where}: has no keywords or patterns")
    where = "asks_customer.ignore"
    ignore = _terms(check_keys(raw.get("ignore") or {}, _TERMS_KEYS, where), where)
    return AsksCustomerMatcher(requests, ignore)
