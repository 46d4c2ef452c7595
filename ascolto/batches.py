"""Items cut into requests bounded both in count and in bytes (ingest's body limit,
Elasticsearch's bulk requests)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def bounded(
    sized: Iterable[tuple[int, T]],
    max_count: int,
    max_bytes: int,
    *,
    framing: int = 0,
    separator: int = 0,
) -> Iterator[list[T]]:
    """The items of (size, item) pairs, in order, in batches of at most max_count whose bytes
    (the items', a separator between two, the framing around them) stay within max_bytes. An
    item too large on its own still gets a batch of its own: the receiver says why."""
    batch: list[T] = []
    used = framing
    for size, item in sized:
        if batch and (len(batch) == max_count or used + separator + size > max_bytes):
            yield batch
            batch, used = [], framing
        used += size + (separator if batch else 0)
        batch.append(item)
    if batch:
        yield batch
