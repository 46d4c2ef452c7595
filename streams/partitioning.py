"""The partition a key's records go to: the producers' default partitioner (aiokafka's, murmur2
of the key), which places every record sent without a partition, the timelines' changelog
records included (streams.app keep)."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner


def partition_of(key: bytes, partitions: int) -> int:
    every = list(range(partitions))
    return int(DefaultPartitioner()(key, every, every))
