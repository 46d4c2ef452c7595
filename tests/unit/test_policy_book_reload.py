"""PolicyReload without Kafka: a changed file is a new version from the instant it was noticed,
an invalid one is refused and the version in force stays."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from streams.policy_reload import PolicyReload
from streams.sla.policy import PolicyError

T0 = 1_790_000_000.0


def policy(first_response: str) -> str:
    return f"""
version: 1
rules:
  - {{name: default, targets: {{first_response: {first_response}, next_response: 1h,
                                resolution: 1d}}}}
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def target_at(reload: PolicyReload, seconds: float) -> int:
    rule = reload.at(int(seconds * 1000)).match("first_response", "chat", brand=None)
    assert rule is not None
    return rule.target_s("first_response")


def write(path: Path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def started(tmp_path: Path) -> tuple[Path, Clock, PolicyReload, CollectorRegistry]:
    """A reload of a valid file written at T0, its metrics in a registry of its own."""
    path, clock = tmp_path / "sla.yaml", Clock()
    write(path, policy("10m"), T0)
    reload = PolicyReload.start(path, None, clock)
    registry = CollectorRegistry()
    reload.register(registry)
    return path, clock, reload, registry


def test_a_changed_file_applies_from_when_it_was_noticed(tmp_path: Path) -> None:
    path, clock, reload, registry = started(tmp_path)
    clock.now = T0 + 60
    write(path, policy("20m"), T0 + 50)
    reload.check()
    assert [v.since_ms for v in reload.book.versions] == [T0 * 1000, (T0 + 60) * 1000]
    assert target_at(reload, T0 + 59.999) == 600 and target_at(reload, T0 + 60) == 1200
    assert registry.get_sample_value("ascolto_sla_policy_since_seconds") == T0 + 60
    # touched, same content: no new version
    clock.now = T0 + 120
    write(path, policy("20m"), T0 + 110)
    reload.check()
    assert len(reload.book.versions) == 2


def test_an_invalid_file_is_refused_once_and_the_version_in_force_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, clock, reload, registry = started(tmp_path)
    clock.now = T0 + 60
    write(path, "version: 2\nrules: [{name: x}]\n", T0 + 60)
    with caplog.at_level(logging.ERROR, logger="ascolto.worker"):
        reload.check()
        write(path, "version: 2\nrules: [{name: x}]\n", T0 + 70)  # touched: not again
        reload.check()
    assert registry.get_sample_value("ascolto_sla_policy_refused_total") == 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("\n" not in line for line in lines)  # one per problem
    assert f"{path}: field 'version': must be 1 (got 2)" in lines[0]
    assert len(reload.book.versions) == 1 and target_at(reload, T0 + 100) == 600
    path.unlink()
    reload.check()  # the file gone: refused too, never raised
    assert registry.get_sample_value("ascolto_sla_policy_refused_total") == 2
    write(path, policy("10m"), T0 + 200)  # back to the version in force: nothing new
    reload.check()
    assert len(reload.book.versions) == 1


def test_a_worker_does_not_start_on_an_invalid_file_with_no_version_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text("version: 1\n")
    with pytest.raises(PolicyError, match="field 'rules'"):
        PolicyReload.start(path, None)


async def test_a_failing_check_never_stops_the_timer(tmp_path: Path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(policy("10m"))
    reload = PolicyReload.start(path, None)
    reload.clock = _broken
    path.write_text(policy("20m"))
    os.utime(path, (T0 + 5, T0 + 5))
    await reload.tick()
    assert len(reload.book.versions) == 1


def _broken() -> float:
    raise RuntimeError("no clock")
