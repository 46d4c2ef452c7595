"""The partition a key's records go to: the producers' default partitioner (murmur2 of the key),
which places every record sent without a partition, the timelines' changelog records included
(streams.app keep)."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_of(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
