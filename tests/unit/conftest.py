"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest

from streams.rules.enrich import DEFAULT_CONFIG_PATH, Enricher


@pytest.fixture(scope="session")
def enricher() -> Enricher:
    """The Enricher on the shipped ascolto/defaults/intents.yaml, built once: its language
    models take ~1 s to load."""
    return Enricher.from_file(DEFAULT_CONFIG_PATH)
