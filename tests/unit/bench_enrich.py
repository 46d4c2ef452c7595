"""Per-contact cost of the enrichment rules. Not a test (pytest does not collect bench_*).

    .venv/bin/python -m tests.unit.bench_enrich [N]

Builds N (default 10,000) tweet-length and N e-mail-length contacts, half English, half
Italian, each text made unique by random choices and numbers (no cache can help), and times
`enrich` one by one, `enrich_many` in batches of 500 (the agent's batch size), and each step;
each figure is the best of 3 runs.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from streams.rules.enrich import Enricher, message_text
from streams.rules.intent import prepare

_SENTENCES = {
    "en": [
        "my package still hasn't arrived and tracking hasn't moved since Monday",
        "why was I charged twice this month",
        "thanks for the quick help today, the agent was great",
        "the app is down again and nothing loads",
        "how do I cancel my subscription",
        "I can't log into my account since yesterday",
        "worst customer service ever, three hours on hold",
        "still waiting for my refund",
        "does the premium plan include international shipping",
        "your website keeps crashing when I try to check out",
        "the courier left the parcel in the rain and everything is soaked",
        "I was billed for a plan I never signed up for",
        "the replacement is broken too and I am really disappointed",
        "could you tell me what time the store opens on Sunday",
        "I have been a customer for years and never had a problem like this",
        "please call me back as soon as possible",
    ],
    "it": [
        "il mio pacco non è ancora arrivato e il tracking è fermo da lunedì",
        "perché mi avete addebitato due volte questo mese",
        "grazie mille per l'aiuto di oggi, l'operatore è stato gentilissimo",
        "l'app non funziona di nuovo e non carica niente",
        "come faccio a disdire l'abbonamento",
        "non riesco ad accedere al mio account da ieri",
        "servizio clienti pessimo, tre ore di attesa",
        "sto ancora aspettando il rimborso",
        "il piano premium include la spedizione internazionale",
        "il vostro sito continua a bloccarsi quando provo a pagare",
        "il corriere ha lasciato il pacco sotto la pioggia ed è tutto bagnato",
        "mi avete fatturato un piano che non ho mai sottoscritto",
        "anche il prodotto sostitutivo è rotto e sono molto deluso",
        "mi sapete dire a che ora apre il negozio la domenica",
        "sono cliente da anni e non ho mai avuto un problema del genere",
        "vi prego di richiamarmi appena possibile",
    ],
}
_GREETING = {"en": ["Hello,", "Hi team,", "Dear support,"], "it": ["Buongiorno,", "Salve,"]}
_SIGNOFF = {
    "en": ["Thanks,\nMark", "Regards,\nJane Doe"],
    "it": ["Grazie,\nMarco", "Saluti,\nGiulia"],
}
_END = [".", "!", "?", "..."]


def _sentences(rnd: random.Random, lang: str, n: int) -> str:
    out = []
    for _ in range(n):
        s = rnd.choice(_SENTENCES[lang])
        if rnd.random() < 0.3:
            s += f" (order {rnd.randint(10000, 99999)})"
        out.append(s[0].upper() + s[1:] + rnd.choice(_END))
    return " ".join(out)


def tweets(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        lang = "en" if i % 2 else "it"
        body = f"@Acme{rnd.choice(['Support', 'Help', 'Care'])} " + _sentences(
            rnd, lang, rnd.randint(1, 2)
        )
        out.append({"channel": "social", "direction": "inbound", "body": body[:280]})
    return out


def emails(n: int, seed: int = 2) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        lang = "en" if i % 2 else "it"
        paragraphs = [rnd.choice(_GREETING[lang])]
        paragraphs += [_sentences(rnd, lang, rnd.randint(2, 4)) for _ in range(rnd.randint(2, 4))]
        paragraphs.append(rnd.choice(_SIGNOFF[lang]))
        body = "\n\n".join(paragraphs)
        if rnd.random() < 0.5:  # a reply quoting the previous message
            quoted = _sentences(rnd, lang, 4)
            body += (
                f"\n\nOn Mon, 3 Mar 2025 at 10:{i % 60:02d}, Acme <s@acme.test> wrote:\n> {quoted}"
            )
        subject = _sentences(rnd, lang, 1)[:60]
        out.append({"channel": "email", "direction": "inbound", "subject": subject, "body": body})
    return out


def _per_item_us(fn: Callable[[], object], n: int, repeat: int = 3) -> float:
    """Best of `repeat` runs (as timeit does: slower runs measure other load on the machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def bench(enricher: Enricher, name: str, contacts: Sequence[dict[str, Any]]) -> None:
    n = len(contacts)
    texts = [message_text(c) for c in contacts]
    langs = enricher.detector.detect_many(texts)
    print(f"{name}: {n} contacts, mean length {sum(map(len, texts)) / n:.0f} chars")
    steps = {
        "message_text": lambda: [message_text(c) for c in contacts],
        "language (detect)": lambda: [enricher.detector.detect(t) for t in texts],
        "language (detect_many)": lambda: enricher.detector.detect_many(texts),
        "sentiment": lambda: [
            enricher.scorer.score(t, la) for t, la in zip(texts, langs, strict=True)
        ],
        "intent rules": lambda: [
            enricher.rules.intents.match(prepare(t[: enricher.rule_chars])) for t in texts
        ],
        "enrich (one by one)": lambda: [enricher.enrich(c) for c in contacts],
        "enrich_many (batches of 500)": lambda: [
            enricher.enrich_many(contacts[i : i + 500]) for i in range(0, n, 500)
        ],
    }
    for step, fn in steps.items():
        print(f"  {step:30} {_per_item_us(fn, n):8.1f} us/contact")


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 10_000
    t0 = time.perf_counter()
    enricher = Enricher.from_file()
    print(f"Enricher.from_file: {time.perf_counter() - t0:.2f} s")
    bench(enricher, "tweets", tweets(n))
    bench(enricher, "emails", emails(n))


if __name__ == "__main__":
    main(sys.argv)
