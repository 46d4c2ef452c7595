"""PolicyBook: which version of a reloaded policy judges a clock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.rules.threading import derive
from streams.sla.judge import clocks, judge
from streams.sla.policy import PolicyError
from streams.sla.policy_book import PolicyBook, Version, version_of

M = 60_000
T0 = 1_790_000_000_000


def text(first_response: str, brand_target: str = "2h") -> str:
    return f"""
version: 1
rules:
  - {{name: default, targets: {{first_response: {first_response}, next_response: 1h,
                                resolution: 1d}}}}
  - {{name: acme, match: {{brand: acme}}, targets: {{first_response: {brand_target}}}}}
"""


A, B, C = text("10m"), text("20m"), text("30m")


def test_each_instant_has_the_version_in_force_then():
    book = PolicyBook.of([version_of(T0, A), version_of(T0 + 10 * M, B)])
    first = book.at(T0).match("first_response", "chat", brand=None)
    assert first.targets["first_response"] == 600
    assert book.at(T0 + 10 * M - 1).match("first_response", "chat", brand=None) == first
    assert (
        book.at(T0 + 10 * M).match("first_response", "chat", brand=None).targets["first_response"]
        == 1200
    )
    # before the first version known: the first version (a replayed archive's old clocks)
    assert book.at(0) is book.versions[0].policy


def test_consecutive_identical_versions_collapse_into_the_earliest():
    """Two workers noticing the same change, in any order: one version, from the earlier."""
    noticed = [version_of(T0, A), version_of(T0 + 5_000, B), version_of(T0 + 3_000, B)]
    book = PolicyBook.of(noticed)
    assert [v.since_ms for v in book.versions] == [T0, T0 + 3_000]
    assert book.with_version(version_of(T0 + 9_000, B)) is book
    # a file changed back is a new version, not a collapse
    back = book.with_version(version_of(T0 + 20_000, A))
    assert [v.since_ms for v in back.versions] == [T0, T0 + 3_000, T0 + 20_000]


def test_an_invalid_file_is_no_version():
    book = PolicyBook.first(T0, A)
    with pytest.raises(PolicyError) as caught:
        version_of(T0 + M, "version: 1\nrules: []\n", "sla.yaml")
    assert caught.value.problems == ("sla.yaml: field 'rules': must be a non-empty list of rules",)
    assert book.latest.digest == version_of(T0, A).digest  # what is in force stays


def test_an_empty_book_is_refused():
    with pytest.raises(ValueError, match="at least one version"):
        PolicyBook(())


def msg(sid: str, direction: str, at: int, brand: str = "acme") -> dict[str, Any]:
    return {
        "contact_id": f"id-{sid}", "source": "t", "source_id": sid, "channel": "chat",
        "direction": direction, "kind": "message", "brand": brand, "customer_id": f"c-{sid}",
        "conversation_ref": None, "in_reply_to": None, "references": [],
        "occurred_at": at, "fingerprint": f"fp-{sid}", "asks_customer": False,
        "priority": None, "tier": None,
    }  # fmt: skip


def targets_of(book: PolicyBook, message: dict[str, Any], now: int) -> dict[str, int]:
    timeline = {message["contact_id"]: message}
    judged = judge(clocks(derive(timeline, now_ms=now), timeline, book), now)
    state = judged.contact_sla[message["contact_id"]]
    resolution = {e.kind: e.target_s for e in judged.events if e.kind == "resolution"}
    return {"first_response": state["target_seconds"], **resolution}


def test_a_clock_keeps_the_targets_of_the_version_in_force_when_it_started():
    book = PolicyBook.of(
        [version_of(T0, text("10m", "1m")), version_of(T0 + 10 * M, text("10m", "3m"))]
    )
    now = T0 + 3 * 60 * M  # long after both, every clock has breached
    before = targets_of(book, msg("a", "inbound", T0 + 9 * M), now)
    after = targets_of(book, msg("b", "inbound", T0 + 11 * M), now)
    assert before["first_response"] == 60 and after["first_response"] == 180
    # the plain Policy still works, and is the book's single version
    single = PolicyBook.first(T0, text("10m", "1m"))
    assert targets_of(single.at(0), msg("c", "inbound", T0), now)["first_response"] == 60
    assert targets_of(single, msg("c", "inbound", T0), now)["first_response"] == 60


@settings(max_examples=100, deadline=None)
@given(
    notices=st.lists(
        st.tuples(st.integers(0, 100), st.sampled_from([A, B, C])), min_size=1, max_size=8
    ),
    at=st.integers(-10, 110),
)
def test_the_book_is_the_same_whoever_noticed_first(notices, at):
    """Any order of the same notices gives the same book; no two neighbours are equal; the
    version at an instant is the latest noticed at or before it (else the first)."""
    versions = [version_of(T0 + s, t) for s, t in notices]
    book = PolicyBook.of(versions)
    assert book == PolicyBook.of(reversed(versions))
    digests = [v.digest for v in book.versions]
    assert all(a != b for a, b in zip(digests, digests[1:], strict=False))
    in_force = [v for v in book.versions if v.since_ms <= T0 + at] or [book.versions[0]]
    assert book.at(T0 + at) is in_force[-1].policy
    assert isinstance(book.latest, Version)
