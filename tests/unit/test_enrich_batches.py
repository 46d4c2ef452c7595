"""Enrichment on the shipped rules: batches agree with one by one; the documented fields."""

from __future__ import annotations

import pytest

from streams.rules.enrich import Enricher, Enrichment
from tests.support.enrich_samples import EN_EMAIL, EN_TWEETS, IT_EMAIL, IT_TWEETS, contact


def test_enrich_many_equals_enrich_one_by_one(enricher: Enricher) -> None:
    texts = [t for t, _ in EN_TWEETS + IT_TWEETS] + [EN_EMAIL, IT_EMAIL, "😡", "Hello", "Grazie"]
    contacts = [
        contact(
            t,
            direction="outbound" if i % 5 == 0 else "inbound",
            channel=("social", "email", "chat")[i % 3],
            language="it" if i % 7 == 0 else None,
        )
        for i, t in enumerate(texts)
    ]
    tiers = [("vip", "standard", None)[i % 3] for i in range(len(contacts))]
    assert enricher.enrich_many(contacts, tiers) == [
        enricher.enrich(c, t) for c, t in zip(contacts, tiers, strict=True)
    ]
    assert enricher.enrich_many(contacts) == [enricher.enrich(c) for c in contacts]
    assert enricher.enrich_many([]) == []


def test_enrich_many_needs_one_tier_per_contact(enricher: Enricher) -> None:
    with pytest.raises(ValueError, match="2 contacts but 1 tiers"):
        enricher.enrich_many([contact("a"), contact("b")], ["vip"])


def test_enrichment_has_exactly_the_documented_fields(enricher: Enricher) -> None:
    assert set(enricher.enrich(contact("hello there"))) == set(Enrichment.__annotations__)
