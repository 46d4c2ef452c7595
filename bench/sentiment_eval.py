"""Sentiment measured on labelled samples: accuracy, macro-F1 and confusion per language.

    .venv/bin/python -m bench.sentiment_eval            # the figures in docs/sentiment.md
    .venv/bin/python -m bench.sentiment_eval --speed    # plus the scorers' contacts/s

Samples: tests/data/sentiment/{it,en}.tsv (label, kind, text); how they were written and
labelled, and the rule that decides whether Italian is measured, are in docs/sentiment.md.
The output is deterministic (the --speed lines aside): a unit test compares it with the
block the doc publishes.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from streams.rules.sentiment import SentimentScorer, label_for

SAMPLES_DIR: Final = Path(__file__).resolve().parent.parent / "tests" / "data" / "sentiment"
LABELS: Final = ("negative", "neutral", "positive")

# The decision rule of docs/sentiment.md, fixed before the Italian scorer was first run.
MIN_MACRO_F1: Final = 0.50
MAX_GAP_TO_ENGLISH: Final = 0.10
MIN_NEGATIVE_PRECISION: Final = 0.70


class Sample(NamedTuple):
    label: str
    kind: str
    text: str


def read_samples(path: Path) -> list[Sample]:
    """A `label<TAB>kind<TAB>text` file with a header line."""
    samples = []
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    for n, line in enumerate(lines, start=2):
        parts = line.split("\t")
        if len(parts) != 3 or parts[0] not in LABELS:
            raise ValueError(f"{path}:{n}: expected label<TAB>kind<TAB>text, label in {LABELS}")
        samples.append(Sample(*parts))
    return samples


@dataclass(frozen=True)
class Scores:
    """How predictions compare with labels."""

    confusion: Counter[tuple[str, str]]  # (true, predicted) -> count
    total: int

    @classmethod
    def of(cls, truth: Sequence[str], predicted: Sequence[str]) -> Scores:
        if len(truth) != len(predicted):
            raise ValueError("truth and predictions differ in length")
        return cls(Counter(zip(truth, predicted, strict=True)), len(truth))

    @property
    def accuracy(self) -> float:
        return sum(self.confusion[label, label] for label in LABELS) / self.total

    def precision(self, label: str) -> float:
        said = sum(self.confusion[t, label] for t in LABELS)
        return self.confusion[label, label] / said if said else 0.0

    def recall(self, label: str) -> float:
        true = sum(self.confusion[label, p] for p in LABELS)
        return self.confusion[label, label] / true if true else 0.0

    def f1(self, label: str) -> float:
        p, r = self.precision(label), self.recall(label)
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def macro_f1(self) -> float:
        return sum(self.f1(label) for label in LABELS) / len(LABELS)


def predict(score: Callable[[str], float], samples: Sequence[Sample]) -> list[str]:
    return [label_for(score(s.text)) for s in samples]


def always_neutral(_text: str) -> float:
    """What a consumer reading only the label sees for a contact that is not measured."""
    return 0.0


@dataclass(frozen=True)
class Verdict:
    turn_on: bool
    reasons: list[str]


def decide(italian: Scores, english: Scores) -> Verdict:
    """The rule in docs/sentiment.md: all three conditions, each reported."""
    checks = [
        (italian.macro_f1 >= MIN_MACRO_F1, f"macro-F1 {italian.macro_f1:.3f} >= {MIN_MACRO_F1}"),
        (
            english.macro_f1 - italian.macro_f1 <= MAX_GAP_TO_ENGLISH,
            f"gap to VADER on English {english.macro_f1 - italian.macro_f1:.3f}"
            f" <= {MAX_GAP_TO_ENGLISH}",
        ),
        (
            italian.precision("negative") >= MIN_NEGATIVE_PRECISION,
            f"negative precision {italian.precision('negative'):.3f} >= {MIN_NEGATIVE_PRECISION}",
        ),
    ]
    return Verdict(
        all(ok for ok, _ in checks), [("met: " if ok else "NOT met: ") + why for ok, why in checks]
    )


def _row(name: str, n: int, s: Scores) -> str:
    f1s = " | ".join(f"{s.f1(label):.3f}" for label in LABELS)
    negative = s.precision("negative")
    return f"| {name} | {n} | {s.accuracy:.3f} | {s.macro_f1:.3f} | {f1s} | {negative:.3f} |"


def _confusion(title: str, s: Scores) -> list[str]:
    lines = [f"{title} (rows: label, columns: predicted)", "", "| | " + " | ".join(LABELS) + " |"]
    lines.append("| --- " * (len(LABELS) + 1) + "|")
    for t in LABELS:
        lines.append(f"| {t} | " + " | ".join(str(s.confusion[t, p]) for p in LABELS) + " |")
    return lines + [""]


def right_by_kind(samples: Sequence[Sample], predicted: Sequence[str]) -> Counter[str]:
    right: Counter[str] = Counter({s.kind: 0 for s in samples})
    for sample, p in zip(samples, predicted, strict=True):
        right[sample.kind] += sample.label == p
    return right


def report(scorer: SentimentScorer, samples_dir: Path = SAMPLES_DIR) -> str:
    """The figures, as the Markdown docs/sentiment.md publishes."""
    it = read_samples(samples_dir / "it.tsv")
    en = read_samples(samples_dir / "en.tsv")
    it_pred = predict(lambda t: scorer.compound(t, "it"), it)
    en_pred = predict(lambda t: scorer.compound(t, "en"), en)
    it_truth, en_truth = [s.label for s in it], [s.label for s in en]
    italian, english = Scores.of(it_truth, it_pred), Scores.of(en_truth, en_pred)
    lines = [
        "| scorer | messages | accuracy | macro-F1 | F1 negative | F1 neutral | F1 positive"
        " | precision negative |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _row("Italian: translated AFINN + rules", len(it), italian),
        _row(
            "Italian: not measured (label neutral)",
            len(it),
            Scores.of(it_truth, predict(always_neutral, it)),
        ),
        _row(
            "Italian: VADER (English lexicon)",
            len(it),
            Scores.of(it_truth, predict(lambda t: scorer.compound(t, "en"), it)),
        ),
        _row("English: VADER", len(en), english),
        _row("English: always neutral", len(en), Scores.of(en_truth, predict(always_neutral, en))),
        "",
    ]
    lines += _confusion("Italian, translated AFINN + rules", italian)
    lines += _confusion("English, VADER", english)
    lines += [
        "Right answers by kind of message",
        "",
        "| kind | messages | Italian right | English right |",
    ]
    lines.append("| --- | ---: | ---: | ---: |")
    kinds = Counter(s.kind for s in it)
    it_right, en_right = right_by_kind(it, it_pred), right_by_kind(en, en_pred)
    for kind in sorted(kinds):
        lines.append(f"| {kind} | {kinds[kind]} | {it_right[kind]} | {en_right[kind]} |")
    verdict = decide(italian, english)
    lines += ["", f"Decision: Italian {'measured' if verdict.turn_on else 'not measured'}."]
    lines += [f"- {reason}" for reason in verdict.reasons]
    return "\n".join(lines) + "\n"


def contacts_per_second(
    scorer: SentimentScorer, texts: Sequence[tuple[str, str]], seconds: float = 1.0
) -> float:
    """Scorer.score alone on (text, language) pairs, after one warm-up pass, per second of
    this process's CPU time (the machine is shared: wall time would count the others)."""
    for text, language in texts:
        scorer.score(text, language)
    done, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for text, language in texts:
            scorer.score(text, language)
        done += len(texts)
    return done / (time.process_time() - start)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", action="store_true", help="also time the scorers")
    args = parser.parse_args(argv)
    scorer = SentimentScorer()
    print(report(scorer), end="")
    if args.speed:
        it = [s.text for s in read_samples(SAMPLES_DIR / "it.tsv")]
        en = [s.text for s in read_samples(SAMPLES_DIR / "en.tsv")]
        start = time.perf_counter()
        SentimentScorer().score(it[0], "it")
        print(
            f"speed: scorer built and Italian lexicon loaded in {time.perf_counter() - start:.3f} s"
        )
        for name, texts, language in [
            ("English, VADER", en, "en"),
            ("Italian, measured", it, "it"),
            ("Italian text as a language not measured (Italian before)", it, "es"),
        ]:
            rate = contacts_per_second(scorer, [(t, language) for t in texts])
            print(f"speed: {name}: {rate:,.0f} contacts/s")


if __name__ == "__main__":
    main()
