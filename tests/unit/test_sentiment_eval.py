"""bench/sentiment_eval.py: its metrics, its samples, and the figures docs/sentiment.md shows."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bench.sentiment_eval import (
    LABELS,
    SAMPLES_DIR,
    Scores,
    decide,
    read_samples,
    report,
    right_by_kind,
)
from streams.rules.sentiment import SUPPORTED_LANGUAGES, SentimentScorer

DOC = Path(__file__).resolve().parents[2] / "docs" / "sentiment.md"


def test_scores_match_a_hand_computed_example() -> None:
    truth = ["negative", "negative", "neutral", "neutral", "positive", "positive"]
    predicted = ["negative", "neutral", "neutral", "positive", "positive", "positive"]
    s = Scores.of(truth, predicted)
    assert s.accuracy == pytest.approx(4 / 6)
    # negative: P 1/1, R 1/2; neutral: P 1/2, R 1/2; positive: P 2/3, R 2/2
    assert (s.precision("negative"), s.recall("negative")) == (1.0, 0.5)
    assert s.f1("negative") == pytest.approx(2 / 3)
    assert s.f1("neutral") == pytest.approx(0.5)
    assert s.f1("positive") == pytest.approx(0.8)
    assert s.macro_f1 == pytest.approx((2 / 3 + 0.5 + 0.8) / 3)


def test_a_label_never_predicted_scores_zero_not_an_error() -> None:
    s = Scores.of(["negative", "positive"], ["neutral", "neutral"])
    assert (s.accuracy, s.precision("negative"), s.f1("positive"), s.macro_f1) == (0, 0, 0, 0)


def test_decision_rule_needs_all_three_conditions() -> None:
    english = Scores.of(list(LABELS) * 10, list(LABELS) * 10)  # macro-F1 1.0
    italian = Scores.of(list(LABELS) * 10, list(LABELS) * 10)
    assert decide(italian, english).turn_on
    # perfect on negatives but calls every neutral negative: precision 0.5
    sloppy = Scores.of(
        ["negative", "neutral", "positive"] * 10, ["negative", "negative", "positive"] * 10
    )
    verdict = decide(sloppy, Scores.of(["neutral"], ["positive"]))
    assert not verdict.turn_on
    assert [r.startswith("met") for r in verdict.reasons] == [True, True, False]


def test_bad_sample_line_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("label\tkind\ttext\nhappy\tplain\tgreat\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"x.tsv:2: expected label<TAB>kind<TAB>text"):
        read_samples(path)


def test_samples_are_balanced_and_parallel() -> None:
    it, en = read_samples(SAMPLES_DIR / "it.tsv"), read_samples(SAMPLES_DIR / "en.tsv")
    assert len(it) == len(en) >= 150
    assert all(n >= 50 for n in Counter(s.label for s in it).values())
    assert [(s.label, s.kind) for s in it] == [(s.label, s.kind) for s in en]
    assert right_by_kind(it, [s.label for s in it]) == Counter(s.kind for s in it)


def test_published_figures_are_what_the_scorer_computes_now() -> None:
    m = re.search(
        r"<!-- sentiment_eval begin -->\n(.*)<!-- sentiment_eval end -->",
        DOC.read_text(encoding="utf-8"),
        re.S,
    )
    assert m, "docs/sentiment.md lost its sentiment_eval block"
    computed = report(SentimentScorer())
    assert m.group(1) == computed, "rerun python -m bench.sentiment_eval and update the doc"
    # and the code applies the decision the figures support
    measured = "Decision: Italian measured." in computed
    assert measured == ("it" in SUPPORTED_LANGUAGES)
