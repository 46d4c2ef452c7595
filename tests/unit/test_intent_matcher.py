"""The fast intent matcher gives exactly the documented rule: the first listed intent with a
keyword or pattern anywhere in the text, not negated by one of its `negated_by` words."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules.enrich import DEFAULT_CONFIG_PATH, load_rules
from streams.rules.intent import (
    IntentMatcher,
    IntentRule,
    Terms,
    fold,
    keywords_regex,
    parse_intents,
    prepare,
)

RULES = parse_intents(
    __import__("yaml").safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))["intents"]
)
MATCHER = load_rules(DEFAULT_CONFIG_PATH).intents


def reference(rules: list[IntentRule], text: str, label: str | None) -> str:
    """The rule as written for operators, without the speed-ups."""
    for rule in rules:
        terms = rule.terms

        def found(regex: str, rule: IntentRule = rule) -> bool:
            starts = [m.start() for m in re.finditer(f"(?={regex})", text, re.IGNORECASE)]
            return any(not negated(rule, text[:start]) for start in starts)

        keyword = bool(terms.keywords) and found(keywords_regex(terms.keywords))
        pattern = any(found(p) for p in terms.patterns)
        if keyword or pattern or (rule.when_sentiment is not None and rule.when_sentiment == label):
            return rule.name
    return "other"


def negated(rule: IntentRule, before: str) -> bool:
    """Does `before` end with one of the rule's negators and at most two more words?"""
    if not rule.negated_by:
        return False
    words = re.findall(r"[\w']+|[.,;:!?\n]", before)[-3:]
    clause = words[max((i + 1 for i, w in enumerate(words) if w in ".,;:!?\n"), default=0) :]
    return any(re.fullmatch(keywords_regex(rule.negated_by), w) for w in clause)


# Pieces of keywords of several intents, overlapping on purpose ("account" / "close my
# account", "pacc*" / "pacco", "non" / "non funziona" / "non è arrivato"), plus filler.
PIECES = [
    "cancel my",
    "close my account",
    "account",
    "account closed",
    "non funziona",
    "non",
    "è arrivato",
    "arrivato",
    "pacco",
    "pacchetto",
    "refund",
    "refunded",
    "rimborso",
    "charged",
    "charger",
    "down",
    "is down",
    "app",
    "?",
    "grazie mille",
    "thanks for",
    "ottimo",
    "perfetto",
    "not",
    "affatto",
    "don't",
    "worst",
    "not working",
    "disdire",
    "l'abbonamento",
    "annullare il mio ordine",
    "on hold",
    "in attesa",
    "ore di attesa",
    "dov'è il mio ordine",
    "the",
    "a",
    "e",
    "il",
    "la",
    ",",
    ".",
    "!",
    "da",
    "di",
    "my",
    "mio",
]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), min_size=0, max_size=25),
    st.sampled_from([None, "negative", "neutral", "positive"]),
)
def test_matcher_equals_the_reference_rule(pieces: list[str], label: str | None) -> None:
    text = prepare(" ".join(pieces))
    assert MATCHER.match(text, label) == reference(RULES, text, label)


def test_same_start_overlaps_resolve_by_precedence() -> None:
    # "account" (account) and "account closed" (cancellation, listed first) start at the same
    # place: the scan must not stop at the shorter keyword of the lower intent.
    rules = [
        IntentRule("cancellation", Terms(keywords=("account closed",))),
        IntentRule("account", Terms(keywords=("account",))),
    ]
    matcher = IntentMatcher(rules)
    assert matcher.match(prepare("my account closed yesterday")) == "cancellation"
    assert matcher.match(prepare("my account is locked")) == "account"


def test_keyword_syntax() -> None:
    def matches(keyword: str, text: str) -> bool:
        return re.search(keywords_regex([keyword]), prepare(text)) is not None

    assert matches("rimbors*", "Voglio il RIMBORSO")
    assert matches("rimbors*", "rimborsare")
    assert not matches("refund", "refunded")
    assert matches("cancel* my", "I cancelled   my order")
    assert matches("non è arrivato", "NON E' ARRIVATO".replace("'", ""))
    assert matches("dov'è", "dov’è")
    assert not matches("bill", "billy")
    assert matches("2fa", "my 2FA code")
    assert fold("perché così") == "perche cosi"
