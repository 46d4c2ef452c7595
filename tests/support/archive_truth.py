"""Ground truth of the generated test archives: the messages as their generator meant them,
and the expected figures computed from the generator's own decisions (which brand reply
answered which customer message, and when), never by re-running pipeline logic over the
output.

Definitions the expected figures follow (the pipeline implements the same):
- messages: inbound customer messages (a row repeated with the same id counts once);
- duplicates: near-duplicates: the same customer posting the same complaint again
  as a new message (not a reply) within 24 h, differing only in case, punctuation,
  an added URL or @mention. Counted in messages; not owed an answer;
- a brand reply answers every still-unanswered owed customer message among its
  ancestors (earliest reply wins); response time = reply time - message time;
- answered + unanswered = owed = messages - duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy


@dataclass
class Figures:
    """Per-brand ground truth. response_times in seconds, ascending."""

    messages: int = 0
    duplicates: int = 0
    answered: int = 0
    unanswered: int = 0
    response_times: list[int] = field(default_factory=list)
    p50_seconds: float | None = None
    p90_seconds: float | None = None


@dataclass(frozen=True)
class Post:
    """One generated message, as the generator meant it."""

    id: str
    author: str
    inbound: bool
    at: int  # epoch seconds
    text: str
    parent: str | None
    brand: str
    customer: str
    near_duplicate: bool = False
    subject: str | None = None  # email only


def expected_figures(posts: list[Post], answered_at: dict[str, int]) -> dict[str, Figures]:
    expected: dict[str, Figures] = {}
    for p in posts:
        if not p.inbound:
            continue
        figures = expected.setdefault(p.brand, Figures())
        figures.messages += 1
        if p.near_duplicate:
            figures.duplicates += 1
        elif p.id in answered_at:
            figures.answered += 1
            figures.response_times.append(answered_at[p.id] - p.at)
        else:
            figures.unanswered += 1
    for figures in expected.values():
        figures.response_times.sort()
        if figures.response_times:
            figures.p50_seconds = float(numpy.percentile(figures.response_times, 50))
            figures.p90_seconds = float(numpy.percentile(figures.response_times, 90))
    return dict(sorted(expected.items()))
