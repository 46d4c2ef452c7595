"""The dependency audit (deploy/audit/): OSV matching on hand-made advisories, the real lock
against the vendored advisories, a real vulnerable pin refused, and the lock in step with
pyproject.toml's pins."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ascolto.config import ROOT
from deploy.audit.audit import (
    LOCK,
    AuditError,
    Finding,
    audit,
    main,
    match,
    read_lock,
    read_snapshot,
    report,
)
from deploy.audit.snapshot import _call, trim, write_from_git
from tests.support.stack import free_port


def advisory(name: str = "Some_Lib", **affected: Any) -> dict[str, Any]:
    entry = {"package": {"ecosystem": "PyPI", "name": name}, **affected}
    return {"id": "PYSEC-0000-1", "affected": [entry]}


def ecosystem(*events: dict[str, str]) -> list[dict[str, Any]]:
    return [{"type": "ECOSYSTEM", "events": list(events)}]


TWO_SPANS = advisory(
    ranges=ecosystem(
        {"introduced": "1.6"}, {"fixed": "1.7"}, {"introduced": "1.2"}, {"fixed": "1.4.1"}
    )
    + ecosystem({"introduced": "2.0"}, {"fixed": "2.3"})
)


@pytest.mark.parametrize(
    ("pinned", "fixed"),
    [
        ("1.1", None),
        ("1.2", "1.4.1"),
        ("1.4.0", "1.4.1"),
        ("1.4.1", None),
        ("1.6.2", "1.7"),
        ("1.7", None),
        ("2.2.9", "2.3"),
        ("2.3", None),
    ],
)
def test_introduced_and_fixed_bound_what_is_affected(pinned: str, fixed: str | None) -> None:
    found = match(TWO_SPANS, "some-lib", pinned)
    assert (found.fixed if found else None) == fixed


def test_the_fix_named_is_the_first_above_the_pin() -> None:
    assert match(TWO_SPANS, "some-lib", "2.1") == Finding("some-lib", "2.1", "PYSEC-0000-1", "2.3")
    assert match(TWO_SPANS, "some-lib", "2.3") is None


def test_last_affected_is_included_and_has_no_fix() -> None:
    adv = advisory(ranges=ecosystem({"introduced": "0"}, {"last_affected": "3.0"}))
    assert match(adv, "some-lib", "3.0") == Finding("some-lib", "3.0", "PYSEC-0000-1", "")
    assert match(adv, "some-lib", "3.0.1") is None


def test_a_versions_list_alone_affects_exactly_its_versions() -> None:
    adv = advisory(versions=["0.9", "1.0"])
    assert match(adv, "some-lib", "1.0.0") == Finding("some-lib", "1.0.0", "PYSEC-0000-1", "")
    assert match(adv, "some-lib", "1.0.1") is None


def test_withdrawn_other_packages_and_other_ecosystems_are_ignored() -> None:
    adv = advisory(ranges=ecosystem({"introduced": "0"}, {"fixed": "9"}))
    assert match(adv, "some-lib", "1") is not None
    assert match({**adv, "withdrawn": "2024-01-02T00:00:00Z"}, "some-lib", "1") is None
    assert match(adv, "other-lib", "1") is None
    npm = {"id": "X", "affected": [{**adv["affected"][0], "package": {"ecosystem": "npm"}}]}
    assert match(npm, "some-lib", "1") is None


def test_the_report_fails_only_on_fixed_and_says_how_old_the_data_is() -> None:
    fixed = Finding("a", "1", "PYSEC-1", "2")
    unfixed = Finding("b", "1", "PYSEC-2", "")
    snapshot = {"date": "2024-10-10", "source": "somewhere", "packages": "a b"}
    lines = report([fixed, unfixed], ["a", "b"], snapshot, date(2025, 1, 1))
    assert lines == [
        "advisories of 2024-10-10 (83 days old) from somewhere",
        "VULNERABLE a 1: PYSEC-1, fixed in 2",
        "warning: b 1: PYSEC-2, no fixed version yet",
    ]
    stale = report([], ["a"], snapshot, date(2025, 4, 9))
    assert stale[1].startswith("warning: the advisories are over 180 days old: refresh them")
    unknown = report([], ["a", "c", "d"], snapshot, date(2025, 1, 1))
    assert unknown[1].startswith("warning: no advisories looked up for c, d: refresh them")


def test_the_real_lock_passes_against_the_vendored_advisories(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    snapshot = read_snapshot(ROOT / "deploy" / "audit" / "SNAPSHOT")
    assert out.startswith(f"advisories of {snapshot['date']} (")
    assert "no advisories looked up" not in out
    assert f"audited {len(read_lock(LOCK))} pins of requirements.lock: 0 vulnerable" in out


def test_a_lock_with_a_known_vulnerable_pin_fails(tmp_path: Path) -> None:
    """aiohttp 3.7.3: the open redirect of PYSEC-2021-76 (CVE-2021-21330), fixed in 3.7.4."""
    lock = tmp_path / "requirements.lock"
    pinned = f"aiohttp=={read_lock(LOCK)['aiohttp']} "
    text = LOCK.read_text()
    assert pinned in text
    lock.write_text(text.replace(pinned, "aiohttp==3.7.3 "))
    done = subprocess.run(
        [sys.executable, "-m", "deploy.audit", "--lock", str(lock)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert "VULNERABLE aiohttp 3.7.3: PYSEC-2021-76, fixed in 3.7.4" in done.stdout


def test_a_line_that_is_no_pin_is_a_one_line_error(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("# a comment\nrequests>=2\n")
    with pytest.raises(AuditError, match=r"requirements.lock:2: not a name==version pin: requests"):
        read_lock(lock)


def test_the_lock_has_every_pin_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]
    locked = read_lock(LOCK)
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{name}: pyproject.toml says {requirement.specifier}, the lock {locked[name]}: "
            "run `make lock`"
        )


def test_a_refresh_that_cannot_connect_is_a_one_line_error() -> None:
    with pytest.raises(AuditError, match=r"^cannot refresh from https://api\.osv\.dev/v1: .+$"):
        _call(f"http://127.0.0.1:{free_port()}/v1/querybatch", {"queries": []})


def test_a_snapshot_from_a_git_clone_keeps_only_the_locked_packages(tmp_path: Path) -> None:
    repo = tmp_path / "advisory-database"
    for name, ident in (("PyYAML", "PYSEC-1"), ("not-locked", "PYSEC-2")):
        folder = repo / "vulns" / name
        folder.mkdir(parents=True)
        (folder / f"{ident}.yaml").write_text(
            f"id: {ident}\naffected:\n- package: {{name: {name}, ecosystem: PyPI}}\n"
            "  ranges:\n  - type: GIT\n    events: [{introduced: '0'}]\n"
            "  - type: ECOSYSTEM\n    events: [{introduced: '0'}, {fixed: 5.10}]\n"
        )
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "advisories"], check=True)
    out, snapshot = tmp_path / "advisories.jsonl", tmp_path / "SNAPSHOT"
    write_from_git(repo / ".git", {"pyyaml": "5.1"}, out, snapshot)
    [record] = [json.loads(line) for line in out.read_text().splitlines()]
    assert record == trim(record, ["pyyaml"])
    assert record["affected"][0]["ranges"] == ecosystem({"introduced": "0"}, {"fixed": "5.10"})
    assert audit({"pyyaml": "5.9"}, [record]) == [Finding("pyyaml", "5.9", "PYSEC-1", "5.10")]
    written = read_snapshot(snapshot)
    assert written["source"].startswith("github.com/pypa/advisory-database at ")
    assert written["packages"] == "pyyaml"
