"""The lag exporter's arithmetic (services/lag_exporter.py), without a broker."""

from __future__ import annotations

import pytest
from kafka import TopicPartition

from services.cli import build_parser
from services.lag_exporter import NO_COMMIT, PartitionLag, lag_sums, lags

RAW0, RAW1, KEYED0 = (
    TopicPartition("contacts.raw", 0),
    TopicPartition("contacts.raw", 1),
    TopicPartition("contacts.keyed", 0),
)


def test_lag_is_the_end_offset_less_the_committed_one() -> None:
    committed = {"ascolto": {RAW0: 10, RAW1: 4}, "audit": {RAW0: 12}}
    ends = {RAW0: 15, RAW1: 4}
    assert lags(committed, ends) == [
        PartitionLag("ascolto", "contacts.raw", 0, 5),
        PartitionLag("ascolto", "contacts.raw", 1, 0),
        PartitionLag("audit", "contacts.raw", 0, 3),
    ]


def test_no_commit_and_unknown_partitions_are_left_out_and_lag_is_never_negative() -> None:
    committed = {"ascolto": {RAW0: NO_COMMIT, RAW1: 9, KEYED0: 3}}
    ends = {RAW0: 7, RAW1: 2}  # KEYED0's topic was deleted meanwhile; RAW1 truncated
    assert lags(committed, ends) == [PartitionLag("ascolto", "contacts.raw", 1, 0)]


def test_sums_are_per_group_and_topic() -> None:
    rows = [
        PartitionLag("ascolto", "contacts.raw", 0, 5),
        PartitionLag("ascolto", "contacts.raw", 1, 2),
        PartitionLag("ascolto", "contacts.keyed", 0, 1),
        PartitionLag("audit", "contacts.raw", 0, 3),
    ]
    assert lag_sums(rows) == {
        ("ascolto", "contacts.raw"): 7,
        ("ascolto", "contacts.keyed"): 1,
        ("audit", "contacts.raw"): 3,
    }


def test_a_bad_group_filter_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["lag-exporter", "--group-filter", "(ascolto"])
    assert exited.value.code == 2
    assert "--group-filter: not a regular expression: '(ascolto'" in capsys.readouterr().err
