"""Enrichment on the shipped rules: agent (outbound) messages and close events."""

from __future__ import annotations

import pytest

from streams.rules.enrich import Enricher, Enrichment
from tests.support.enrich_samples import contact


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Could you send us your order number?", True),
        ("Please DM us your order number.", True),  # a request without '?'
        ("Your refund has been processed.", False),
        ("Let us know if you need anything else!", False),
        ("Your refund is on its way. Is there anything else I can help with?", False),
        ("Your refund is on its way. Can you confirm you received it? Have a great day!", True),
        ("Your order shipped: https://track.acme.example/?id=5", False),  # '?' in a link
        ("Ci può inviare il numero d'ordine?", True),
        ("Ci invii il numero d'ordine in privato.", True),
        ("Potrebbe indicarci l'indirizzo di consegna.", True),
        ("Il rimborso è stato effettuato. Buona giornata!", False),
        ("Il rimborso è stato effettuato. Posso aiutarla con altro?", False),
        # two courtesy phrases in one sentence, then a real request
        ("Happy to help with anything else. What is your order number?", True),
        ("If you need anything else, happy to help! Have a great day.", False),
        ("Il problema potrebbe essere dovuto alla rete.", False),
    ],
)
def test_outbound_asks_customer(enricher: Enricher, text: str, asks: bool) -> None:
    e = enricher.enrich(contact(text, direction="outbound"))
    assert e["asks_customer"] is asks
    assert e["intent"] is None and e["priority"] is None


def test_outbound_still_gets_language_sentiment_and_visibility(enricher: Enricher) -> None:
    e = enricher.enrich(
        contact(
            "So sorry about this, we will fix it right away. Could you send us your order number?",
            direction="outbound",
        )
    )
    assert (e["language"], e["sentiment_supported"], e["visibility"]) == ("en", True, "public")
    assert e["asks_customer"] is True
    it = enricher.enrich(
        contact(
            "Ci scusi per il disagio, può inviarci il numero d'ordine?",
            direction="outbound",
            channel="chat",
        )
    )
    assert (it["language"], it["sentiment_supported"], it["visibility"]) == ("it", True, "private")


def test_outbound_reply_quoting_the_customer_question_does_not_ask(enricher: Enricher) -> None:
    body = (
        "Your refund was issued today.\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Jane <jane@example.com> wrote:\n> Where is my refund?\n"
    )
    assert (
        enricher.enrich(contact(body, direction="outbound", channel="email"))["asks_customer"]
        is False
    )


def test_close_event_with_empty_body(enricher: Enricher) -> None:
    e = enricher.enrich(contact("", direction="outbound", kind="close"))
    assert e == Enrichment(
        language="und",
        sentiment_score=0.0,
        sentiment_label="neutral",
        sentiment_supported=True,
        intent=None,
        visibility="public",
        priority=None,
        asks_customer=False,
        fingerprint=None,
    )


def test_inbound_never_asks_customer(enricher: Enricher) -> None:
    assert enricher.enrich(contact("Could you send me the invoice?"))["asks_customer"] is False
