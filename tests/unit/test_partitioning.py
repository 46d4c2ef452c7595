from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner.default import murmur2

from streams.stages.thread import partition_of


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=64))
def test_a_key_goes_where_every_kafka_client_sends_it(key: bytes, partitions: int) -> None:
    # kafka-python's murmur2, an implementation apart from aiokafka's: the Java client's
    # positive hash modulo the partition count
    assert partition_of(key, partitions) == (murmur2(key) & 0x7FFFFFFF) % partitions
