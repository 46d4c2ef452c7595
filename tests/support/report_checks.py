"""The report read back from Elasticsearch, and its comparison with an archive's independent
figures (tests.support.archive_truth)."""

from __future__ import annotations

import pytest

from services.report import customer_messages, summarise
from tests.support.stack import Pipeline


def report(pipe: Pipeline, by: str = "brand") -> dict:
    pipe.es.indices.refresh(index=pipe.settings.elastic.contacts)
    return summarise(customer_messages(pipe.es, pipe.settings.elastic.contacts), by)


def assert_matches(report_rows: dict, expected: dict) -> None:
    assert set(report_rows) == set(expected)
    for brand, figures in expected.items():
        row = report_rows[brand]
        for name in ("messages", "duplicates", "answered", "unanswered"):
            assert row[name] == getattr(figures, name), (brand, name)
        for name in ("p50_seconds", "p90_seconds"):
            want = getattr(figures, name)
            assert (row[name] is None) == (want is None), (brand, name)
            if want is not None:
                assert row[name] == pytest.approx(want, abs=1e-6), (brand, name)
