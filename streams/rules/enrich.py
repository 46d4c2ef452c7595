"""Enrichment of one contact: language, sentiment, intent, visibility, priority, asks_customer,
near-duplicate fingerprint.

Pure: no I/O after construction, no clock. Build one `Enricher` per process (it loads the
language models and the rules file) and call `enrich` / `enrich_many` from the agent:

    enricher = Enricher.from_file(settings.intents_path)     # at start-up; raises ConfigError
    enrichment = enricher.enrich(contact, tier="vip")

Inbound contacts (from a customer) get every field. Outbound ones (agent replies, closes) get
language and sentiment, intent, priority and fingerprint None, and asks_customer: does the
agent wait on the customer. See ascolto/defaults/intents.yaml for the intent, asks_customer and
priority rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypedDict

import yaml

from ascolto.defaults import INTENTS
from streams.rules.fingerprint import fingerprint
from streams.rules.intent import (
    AsksCustomerMatcher,
    Intent,
    IntentMatcher,
    RuleError,
    check_keys,
    parse_asks_customer,
    parse_intents,
    prepare,
)
from streams.rules.language import LanguageDetector, normalize_code
from streams.rules.priority import (
    UNMEASURED,
    Priority,
    PriorityTable,
    Visibility,
    parse_priority,
    visibility,
)
from streams.rules.sentiment import SentimentLabel, SentimentScorer

# The rules file shipped with the package; deployments pass their own path.
DEFAULT_CONFIG_PATH: Final = INTENTS

_TOP_KEYS = frozenset({"version", "intents", "asks_customer", "priority"})
_VERSION = 1


class ConfigError(ValueError):
    """The rules file is unreadable or invalid; the message starts with the file's path."""


class Enrichment(TypedDict):
    language: str  # ISO 639-1, or "und"
    sentiment_score: float  # VADER compound in [-1, 1]; 0.0 when not measured
    sentiment_label: SentimentLabel
    sentiment_supported: bool  # False: language not covered, score/label are placeholders
    intent: Intent | None  # None for outbound
    visibility: Visibility
    priority: Priority | None  # None for outbound
    asks_customer: bool  # outbound only: the agent waits on the customer; False for inbound
    # Near-duplicate fingerprint of the body as written (no subject, quoted history or
    # signature, so a tweet and the same text e-mailed match); None for outbound.
    fingerprint: str | None


@dataclass(frozen=True)
class Rules:
    """The parsed rules file."""

    intents: IntentMatcher
    asks_customer: AsksCustomerMatcher
    priority: PriorityTable


def parse_rules(raw: object, source: str) -> Rules:
    """Rules from the parsed YAML document; ConfigError naming `source` if invalid."""
    try:
        raw = check_keys(raw, _TOP_KEYS, "")
        if raw.get("version") != _VERSION:
            raise RuleError(f"version must be {_VERSION}, got {raw.get('version')!r}")
        return Rules(
            intents=IntentMatcher(parse_intents(raw.get("intents"))),
            asks_customer=parse_asks_customer(raw.get("asks_customer")),
            priority=parse_priority(raw.get("priority")),
        )
    except RuleError as e:
        raise ConfigError(f"{source}: {e}") from None


def load_rules(path: str | Path) -> Rules:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return parse_rules(raw, str(path))


# -- the text the rules look at ------------------------------------------------------------

# A reply header as mail clients write it, alone at the end of its line (a long one wraps
# once): "On Mon, 3 Mar 2025 at 10:00, Acme <support@acme.example> wrote:", then quoted
# lines or nothing. A header also names a date or an address (`_DATE_OR_ADDRESS`), so that
# prose such as "On Friday I called and nobody answered.\nI wrote:" is never taken for one.
_REPLY_HEADER = re.compile(
    r"^(?:On|Il\s+giorno)\s([^\n]{0,200}(?:\n[^\n]{0,200})?)\s(?:wrote|ha\s+scritto|scrisse):"
    r"(?=[ \t]*(?:\n\s*>|\s*\Z))",
    re.MULTILINE | re.IGNORECASE,
)
_DATE_OR_ADDRESS = re.compile(r"\d|@")
_FORWARD_HEADER = re.compile(
    r"^(?:-{2,}\s*(?:Original\s+Message|Messaggio\s+originale)\s*-{2,}"
    r"|From:\s[^\n]*\n(?:Sent|Date|Inviato|Data):)",
    re.MULTILINE | re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_QUOTED_LINE = re.compile(r"^[ \t]*>[^\n]*\n?", re.MULTILINE)


def _email_as_written(body: str) -> str:
    """An e-mail body without quoted history, signature and "> " quoted lines."""
    cuts = [m.start() for m in _REPLY_HEADER.finditer(body) if _DATE_OR_ADDRESS.search(m[1])]
    cuts += [m.start() for m in (_FORWARD_HEADER.search(body), _SIGNATURE.search(body)) if m]
    body = body[: min(cuts, default=len(body))]
    return _QUOTED_LINE.sub("", body) if ">" in body else body


def written_body(contact: Mapping[str, Any]) -> str:
    """The body as written by the sender.

    Only e-mail carries quoted history and signatures by convention; on other channels a
    line starting with ">" or "On Monday I wrote:" is the customer's own text. If stripping
    would leave nothing, the body is kept whole: a misread e-mail must not lose its text.
    """
    body: str = contact.get("body") or ""
    if contact.get("channel") != "email":
        return body
    written = _email_as_written(body)
    return written if written.strip() else body


def message_text(contact: Mapping[str, Any], body: str | None = None) -> str:
    """Subject and body as written by the sender; `body`: written_body(contact), if known."""
    if body is None:
        body = written_body(contact)
    subject = contact.get("subject")
    return f"{subject}\n{body}" if subject else body


# -- the enricher ---------------------------------------------------------------------------


class Enricher:
    """Build once (about a second: language models), then enrich any number of contacts."""

    def __init__(
        self,
        rules: Rules,
        *,
        detector: LanguageDetector | None = None,
        scorer: SentimentScorer | None = None,
        rule_chars: int = 2000,
    ) -> None:
        """rule_chars: intent and asks_customer rules look at the first rule_chars characters
        of the message text (subject + body without quoted history)."""
        self.rules = rules
        self.detector = detector or LanguageDetector()
        self.scorer = scorer or SentimentScorer()
        self.rule_chars = rule_chars

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_CONFIG_PATH, **kwargs: Any) -> Enricher:
        """Raises ConfigError (naming the file, the entry and the bad value) if invalid."""
        return cls(load_rules(path), **kwargs)

    def enrich(self, contact: Mapping[str, Any], tier: str | None = None) -> Enrichment:
        body = written_body(contact)
        text = message_text(contact, body)
        language = normalize_code(contact.get("language")) or self.detector.detect(text)
        return self._enrich(contact, tier, body, text, language)

    def enrich_many(
        self, contacts: Sequence[Mapping[str, Any]], tiers: Sequence[str | None] | None = None
    ) -> list[Enrichment]:
        """Same as [enrich(c, t) for c, t in zip(contacts, tiers)], with language detection
        for the batch run in parallel on all cores. tiers: one per contact, or None."""
        if tiers is None:
            tiers = [None] * len(contacts)
        elif len(tiers) != len(contacts):
            raise ValueError(f"{len(contacts)} contacts but {len(tiers)} tiers")
        bodies = [written_body(c) for c in contacts]
        texts = [message_text(c, body) for c, body in zip(contacts, bodies, strict=True)]
        known = [normalize_code(c.get("language")) for c in contacts]
        todo = [i for i, code in enumerate(known) if code is None]
        for i, code in zip(todo, self.detector.detect_many([texts[i] for i in todo]), strict=True):
            known[i] = code
        return [
            self._enrich(c, t, body, text, lang or "und")
            for c, t, body, text, lang in zip(contacts, tiers, bodies, texts, known, strict=True)
        ]

    def _enrich(
        self, contact: Mapping[str, Any], tier: str | None, body: str, text: str, language: str
    ) -> Enrichment:
        sentiment = self.scorer.score(text, language)
        vis = visibility(contact["channel"], contact.get("attributes"))
        rule_text = prepare(text[: self.rule_chars])
        intent: Intent | None = None
        priority: Priority | None = None
        asks = False
        near_duplicate: str | None = None
        if contact["direction"] == "outbound":
            asks = self.rules.asks_customer.asks(rule_text)
        else:
            intent = self.rules.intents.match(rule_text, sentiment.label)
            row = sentiment.label if sentiment.supported else UNMEASURED
            priority = self.rules.priority.priority(intent, row, tier, vis)
            near_duplicate = fingerprint(body)
        return Enrichment(
            language=language,
            sentiment_score=sentiment.score,
            sentiment_label=sentiment.label,
            sentiment_supported=sentiment.supported,
            intent=intent,
            visibility=vis,
            priority=priority,
            asks_customer=asks,
            fingerprint=near_duplicate,
        )
