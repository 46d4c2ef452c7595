"""The text the rules and the near-duplicate fingerprint see: the customer's own words.

Quoted history and signatures are an e-mail convention: they are stripped from e-mails only,
only when they look like what mail clients write, and never down to nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from streams.customers import Identity
from streams.rules.enrich import Enricher, message_text, written_body
from streams.rules.fingerprint import fingerprint
from streams.stages.route import enriched_record

SIGNATURE = "\n-- \nMario Rossi\nVia Roma 1, Milano"
GMAIL_HEADER = "On Mon, 3 Mar 2025 at 10:00, Acme Support <support@acme.example> wrote:"


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_file()


def contact(body: str, channel: str = "email", **extra: Any) -> dict[str, Any]:
    return {"channel": channel, "direction": "inbound", "kind": "message", "body": body, **extra}


# -- customer prose that only looks like mail markup ---------------------------------------

PROSE = [
    "On Monday I wrote: I want to cancel my subscription",
    "On Friday I called and nobody answered.\nI wrote: my parcel never arrived. Disgusting",
    "On 3 March I wrote:\nmy parcel never arrived",  # a date, but no quoted lines follow
    "> 2 weeks waiting for my refund, this is unacceptable",
]


@pytest.mark.parametrize("channel", ["social", "chat", "web_form", "email"])
@pytest.mark.parametrize("body", PROSE)
def test_customer_prose_is_kept_whole(body: str, channel: str) -> None:
    assert message_text(contact(body, channel)) == body


def test_prose_with_a_history_marker_still_gets_its_intent(enricher: Enricher) -> None:
    e = enricher.enrich(contact("On Monday I wrote: I want to cancel my subscription", "social"))
    assert (e["language"], e["intent"]) == ("en", "cancellation")


@pytest.mark.parametrize("channel", ["social", "chat", "web_form"])
def test_only_email_is_stripped(channel: str) -> None:
    body = f"Where is my order?{SIGNATURE}"
    assert written_body(contact(body, channel)) == body


# -- real e-mail markup --------------------------------------------------------------------


@pytest.mark.parametrize(
    "history",
    [
        f"{GMAIL_HEADER}\n> Could you send your order number?\n",
        f"{GMAIL_HEADER}\n\n> Could you send your order number?",
        f"{GMAIL_HEADER}\n",  # the quote itself cut off by the client
        "On Mon, 3 Mar 2025 at 10:00, Acme Support <\nsupport@acme.example> wrote:\n> Hi\n",
        "Il giorno lun 3 mar 2025 alle ore 10:00 Acme <support@acme.example> ha scritto:\n> Ciao",
        "-----Original Message-----\nFrom: Acme Support\nSent: Monday\nHi Mario",
        "From: Acme Support <support@acme.example>\nSent: Monday, 3 March 2025\n\nHi Mario",
        "-- \nMario Rossi\nVia Roma 1",
        "> Could you send your order number?\n",
    ],
)
def test_email_history_and_signature_are_dropped(history: str) -> None:
    assert written_body(contact(f"Still nothing, order 4521.\n\n{history}")) == (
        "Still nothing, order 4521.\n\n"
    )


def test_an_email_of_only_quotes_keeps_its_text() -> None:
    body = "> 2 weeks waiting for my refund, this is unacceptable"
    assert written_body(contact(body)) == body


def test_message_text_has_the_subject_first() -> None:
    c = contact(f"Any news?{SIGNATURE}", subject="Order 4521")
    assert message_text(c) == "Order 4521\nAny news?\n"


# -- the near-duplicate fingerprint is taken over the body as written -----------------------


def _routed_fingerprint(enricher: Enricher, c: dict[str, Any]) -> str | None:
    identity = Identity(customer_id="cust-1", account_id=None, tier="standard", known=True)
    return enriched_record(c, dict(enricher.enrich(c)), identity, 0)["fingerprint"]


def test_a_tweet_emailed_again_with_a_signature_is_a_near_duplicate(enricher: Enricher) -> None:
    tweet = "My order 4521 never arrived, where is it?"
    email = contact(f"{tweet}{SIGNATURE}", subject="Order 4521")
    assert _routed_fingerprint(enricher, email) == fingerprint(tweet)
    assert _routed_fingerprint(enricher, contact(tweet, "social")) == fingerprint(tweet)


def test_two_short_emails_with_the_same_signature_are_never_near_duplicates(
    enricher: Enricher,
) -> None:
    assert _routed_fingerprint(enricher, contact(f"Any news?{SIGNATURE}")) is None


def test_outbound_and_non_message_contacts_have_no_fingerprint(enricher: Enricher) -> None:
    reply = {**contact("Your refund was issued today, order 4521."), "direction": "outbound"}
    assert enricher.enrich(reply)["fingerprint"] is None
    close = {**contact("Closed after your confirmation, thanks."), "kind": "close"}
    assert _routed_fingerprint(enricher, close) is None
