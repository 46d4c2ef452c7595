"""The dependency audit: every pin of requirements.lock against OSV advisories, offline.

pip-audit needs api.osv.dev or PyPI's per-version JSON, and CI reaches neither, so the
advisories of the lock's packages are vendored (advisories.jsonl, its source and date in
SNAPSHOT) and matched here with OSV's rules. An advisory that affects a pin and names a fixed
version fails the audit; one without a fix is a warning. ``--refresh`` rewrites the snapshot
where the network allows (snapshot.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOCK = ROOT / "requirements.lock"
ADVISORIES = HERE / "advisories.jsonl"
SNAPSHOT = HERE / "SNAPSHOT"
STALE_DAYS = 180
REFRESH = "refresh them (docs/security.md#dependencies-and-audit)"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")

Advisory = Mapping[str, Any]  # an OSV record


class AuditError(Exception):
    """Input the audit cannot read: its message is the one line printed."""


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str
    fixed: str  # the first fixed version above the pin; "" when there is none yet

    def line(self) -> str:
        where = f"fixed in {self.fixed}" if self.fixed else "no fixed version yet"
        return f"{self.package} {self.version}: {self.advisory}, {where}"


def read_lock(path: Path) -> dict[str, str]:
    """{canonical name: pinned version} of a pip requirements file of ``name==version`` pins."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuditError(f"{path}: cannot read it ({exc.strerror})") from None
    pins: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line[0] in " \t#-":  # hashes, comments, pip options
            continue
        match = PIN.match(line)
        if match is None:
            raise AuditError(f"{path}:{number}: not a name==version pin: {line.strip()[:60]}")
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(events: list[Mapping[str, str]], version: Version) -> bool:
    """OSV's ECOSYSTEM range: affected from an ``introduced`` up to the next ``fixed``
    (excluded) or ``last_affected`` (included); ``introduced: "0"`` is the first release."""
    affected = False
    for event in sorted(events, key=_event_key):
        kind, text = next(iter(event.items()))
        bound = _version(text)
        if bound is None:
            continue
        if kind == "introduced" and version >= bound:
            affected = True
        elif (kind == "fixed" and version >= bound) or (
            kind == "last_affected" and version > bound
        ):
            affected = False
    return affected


def _event_key(event: Mapping[str, str]) -> Version:
    return _version(next(iter(event.values()))) or Version("0")


def _spans(affected: Mapping[str, Any]) -> Iterator[list[Mapping[str, str]]]:
    """The events of each ECOSYSTEM range (GIT ranges name commits, not versions)."""
    for span in affected.get("ranges", []):
        if span.get("type") == "ECOSYSTEM":
            yield span.get("events", [])


def match(advisory: Advisory, package: str, pinned: str) -> Finding | None:
    """The finding if ``advisory`` affects ``package`` at version ``pinned``; withdrawn
    advisories and other packages' never do."""
    version = _version(pinned)
    if advisory.get("withdrawn") or version is None:
        return None
    for affected in advisory.get("affected", []):
        named = affected.get("package", {})
        if named.get("ecosystem") != "PyPI" or canonicalize_name(named.get("name", "")) != package:
            continue
        listed = any(_version(v) == version for v in affected.get("versions", []))
        if listed or any(_in_range(events, version) for events in _spans(affected)):
            fixes = (_version(e.get("fixed", "")) for events in _spans(affected) for e in events)
            above = sorted(v for v in fixes if v is not None and v > version)
            return Finding(package, pinned, advisory["id"], str(above[0]) if above else "")
    return None


def audit(pins: Mapping[str, str], advisories: Iterable[Advisory]) -> list[Finding]:
    """Every (pin, advisory) that matches, in package order."""
    records = list(advisories)
    found = (match(a, name, version) for name, version in sorted(pins.items()) for a in records)
    return [f for f in found if f is not None]


def read_advisories(path: Path) -> list[Advisory]:
    """OSV records, one JSON object a line."""
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError) as exc:
        raise AuditError(f"{path}: cannot read the advisories ({exc})") from None


def read_snapshot(path: Path) -> dict[str, str]:
    """SNAPSHOT's ``key: value`` lines; ``date`` (ISO) is required."""
    try:
        pairs = (line.split(":", 1) for line in path.read_text(encoding="utf-8").splitlines())
        info = {key.strip(): value.strip() for key, value in pairs}
        date.fromisoformat(info["date"])
    except (OSError, ValueError, KeyError) as exc:
        raise AuditError(f"{path}: needs a `date: YYYY-MM-DD` line ({exc!r})") from None
    return info


def report(
    findings: list[Finding], pins: Iterable[str], snapshot: Mapping[str, str], today: date
) -> list[str]:
    """What the audit prints: the data's age first, so nobody takes it for live data."""
    age = (today - date.fromisoformat(snapshot["date"])).days
    lines = [f"advisories of {snapshot['date']} ({age} days old) from {snapshot.get('source')}"]
    if age > STALE_DAYS:
        lines.append(f"warning: the advisories are over {STALE_DAYS} days old: {REFRESH}")
    # A package added to the lock after the snapshot was taken was never looked up.
    unknown = sorted(set(pins) - set(snapshot.get("packages", "").split()))
    if unknown:
        lines.append(f"warning: no advisories looked up for {', '.join(unknown)}: {REFRESH}")
    lines += [f"VULNERABLE {f.line()}" for f in findings if f.fixed]
    lines += [f"warning: {f.line()}" for f in findings if not f.fixed]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.audit", description=__doc__)
    parser.add_argument("--lock", type=Path, default=LOCK, help="the pins to audit")
    parser.add_argument("--advisories", type=Path, default=ADVISORIES)
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    parser.add_argument(
        "--refresh", action="store_true", help="rewrite the advisories from api.osv.dev"
    )
    parser.add_argument(
        "--from-git",
        type=Path,
        metavar="GIT_DIR",
        help="rewrite them from a clone of github.com/pypa/advisory-database (a bare one will do)",
    )
    args = parser.parse_args(argv)
    try:
        pins = read_lock(args.lock)
        if args.refresh or args.from_git:
            # here, not at the top: snapshot.py imports this module
            from deploy.audit.snapshot import write_from_git, write_from_osv

            if args.from_git:
                write_from_git(args.from_git, pins, args.advisories, args.snapshot)
            else:
                write_from_osv(pins, args.advisories, args.snapshot)
        findings = audit(pins, read_advisories(args.advisories))
        lines = report(findings, pins, read_snapshot(args.snapshot), date.today())
    except AuditError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    failing = sum(1 for f in findings if f.fixed)
    print(f"audited {len(pins)} pins of {args.lock.name}: {failing} vulnerable with a fix")
    return 1 if failing else 0
