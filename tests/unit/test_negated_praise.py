"""Praise right after a negation ("non è ottimo") is no praise.

Italian sentiment's lexicon lacks "ottimo" (docs/sentiment.md), so nothing else keeps an
Italian complaint worded as negated praise from ranking as praise (the lowest priority).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from streams.rules.enrich import DEFAULT_CONFIG_PATH, ConfigError, Enricher, load_rules
from streams.rules.intent import IntentMatcher, IntentRule, Terms, prepare


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_file()


def intent(enricher: Enricher, text: str) -> str | None:
    return enricher.enrich({"channel": "social", "direction": "inbound", "body": text})["intent"]


@pytest.mark.parametrize(
    "text",
    [
        "Il servizio non è ottimo",
        "Non è affatto perfetto",
        "Il servizio non e' stato ottimo",
        "Non mi è sembrato per niente eccellente",
    ],
)
def test_italian_negated_praise_is_not_praise(enricher: Enricher, text: str) -> None:
    assert intent(enricher, text) != "praise"


@pytest.mark.parametrize(
    "text",
    [
        "Servizio ottimo, grazie mille!",
        "Non ho parole, servizio eccellente",  # the comma ends the negation
        "No problem, thanks for the quick help",
        "Grazie mille, nulla da dire: perfetto",
    ],
)
def test_praise_after_a_finished_negation_is_still_praise(enricher: Enricher, text: str) -> None:
    assert intent(enricher, text) == "praise"


def test_negation_reaches_three_words_at_most() -> None:
    matcher = IntentMatcher([IntentRule("praise", Terms(keywords=("ottim*",)), None, ("non",))])
    assert matcher.match(prepare("non è stato ottimo")) == "other"
    assert matcher.match(prepare("non lo so, ma il servizio è stato ottimo")) == "praise"
    assert matcher.match(prepare("non mi hanno detto che il servizio era ottimo")) == "praise"


def test_negation_applies_to_patterns_and_only_to_its_own_intent() -> None:
    rules = [
        IntentRule("outage", Terms(keywords=("non funziona",))),
        IntentRule("praise", Terms(patterns=("perfett",)), None, ("non",)),
    ]
    matcher = IntentMatcher(rules)
    assert matcher.match(prepare("non è perfetto")) == "other"
    assert matcher.match(prepare("è perfetto")) == "praise"
    assert matcher.match(prepare("l'app non funziona")) == "outage"


def test_negated_by_is_validated(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    praise = next(i for i in raw["intents"] if i["name"] == "praise")
    praise["negated_by"] = {"it": ["non", False]}
    path = tmp_path / "intents.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\(praise\): negated_by.it: every entry"):
        load_rules(path)
