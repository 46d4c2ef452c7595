"""The versions of the SLA policy over time, and which one judges a clock.

A changed policy file applies to clocks that start after the change: each version is in
force from the instant a worker first noticed it (`since_ms`, wall clock) until the next,
and a clock is judged, for its whole life, by the version in force when it started (a
response clock: when the customer's message happened; a resolution clock: when the
conversation opened). A clock that started before the first version known is judged by
that first version, so a book of one version behaves exactly as its policy alone.

Versions are compared by `digest` (of the file's text): a version identical to the one
before it adds nothing, so workers that notice the same change at slightly different
instants leave one version, in force from the earliest notice. Pure: whoever reads the file
and keeps the history (streams/policy_reload.py) says when.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from streams.sla.policy import Policy, parse_policy


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Version:
    since_ms: int
    digest: str
    policy: Policy


@dataclass(frozen=True)
class PolicyBook:
    """Versions in force, oldest first; never empty."""

    versions: tuple[Version, ...]

    def __post_init__(self) -> None:
        if not self.versions:
            raise ValueError("a policy book needs at least one version")

    @classmethod
    def of(cls, versions: Iterable[Version]) -> PolicyBook:
        """Versions in any order (several workers' notices): ordered by since_ms (then
        digest, so every worker orders a tie alike), consecutive identical ones collapsed
        into the earliest."""
        kept: list[Version] = []
        for version in sorted(versions, key=lambda v: (v.since_ms, v.digest)):
            if not kept or kept[-1].digest != version.digest:
                kept.append(version)
        return cls(tuple(kept))

    @classmethod
    def first(cls, since_ms: int, text: str, source: str = "<policy>") -> PolicyBook:
        return cls((version_of(since_ms, text, source),))

    @property
    def latest(self) -> Version:
        return self.versions[-1]

    def at(self, started_at_ms: int) -> Policy:
        """The version in force at `started_at_ms`; the first one before any was."""
        starts = [v.since_ms for v in self.versions]
        return self.versions[max(bisect_right(starts, started_at_ms) - 1, 0)].policy

    def with_version(self, version: Version) -> PolicyBook:
        """This book plus a version (the same book if it changes nothing)."""
        book = PolicyBook.of((*self.versions, version))
        same = [(v.since_ms, v.digest) for v in book.versions] == [
            (v.since_ms, v.digest) for v in self.versions
        ]
        return self if same else book


def version_of(since_ms: int, text: str, source: str = "<policy>") -> Version:
    """A version of the file's text; raises PolicyError as parse_policy does."""
    return Version(since_ms, digest(text), parse_policy(text, source))
