"""Rewriting the vendored advisories: from OSV's API where the network allows, or from a
clone of the PyPA advisory database. Only the lock's packages are kept, and of each record
only what the matcher reads, one record a line so a refresh's diff is one line per advisory."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name

from deploy.audit.audit import Advisory, AuditError

OSV = "https://api.osv.dev/v1"


def trim(record: Mapping[str, Any], packages: Iterable[str]) -> dict[str, Any] | None:
    """``record`` with only the affected entries of ``packages`` (None if it has none)."""
    wanted = set(packages)
    affected = [
        {
            "package": {"ecosystem": "PyPI", "name": canonicalize_name(a["package"]["name"])},
            "ranges": [r for r in a.get("ranges", []) if r.get("type") == "ECOSYSTEM"],
            "versions": a.get("versions", []),
        }
        for a in record.get("affected", [])
        if a.get("package", {}).get("ecosystem") == "PyPI"
        and canonicalize_name(a["package"].get("name", "")) in wanted
    ]
    if not affected:
        return None
    kept = {key: record[key] for key in ("id", "modified", "withdrawn") if key in record}
    return {**kept, "aliases": record.get("aliases", []), "affected": affected}


def write(
    records: Iterable[Advisory],
    pins: Iterable[str],
    source: str,
    day: date,
    out: Path,
    snapshot: Path,
) -> None:
    """The records, and SNAPSHOT: their source, date, and every package looked up."""
    lines = sorted(json.dumps(r, sort_keys=True, separators=(",", ":")) for r in records)
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    looked_up = " ".join(sorted(pins))
    snapshot.write_text(
        f"source: {source}\ndate: {day.isoformat()}\npackages: {looked_up}\n", encoding="utf-8"
    )
    print(f"wrote {len(lines)} advisories of {day} to {out}")


def _git(git_dir: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise AuditError(f"{git_dir}: not a readable advisory-database clone ({exc})") from None
    return done.stdout


def write_from_git(git_dir: Path, pins: Mapping[str, str], out: Path, snapshot: Path) -> None:
    """The PyPA database's ``vulns/<package>/*.yaml`` at its HEAD, for the pinned packages."""
    folders = _git(git_dir, "ls-tree", "--name-only", "HEAD", "vulns/").split()
    mine = [f for f in folders if canonicalize_name(f.removeprefix("vulns/")) in pins]
    files = _git(git_dir, "ls-tree", "-r", "--name-only", "HEAD", *mine).split() if mine else []
    # BaseLoader: every scalar stays a string, so a version such as 2.10 is not read as 2.1
    records = (yaml.load(_git(git_dir, "show", f"HEAD:{f}"), yaml.BaseLoader) for f in files)
    trimmed = [t for t in (trim(r, pins) for r in records) if t is not None]
    commit, day = _git(git_dir, "log", "-1", "--format=%H %cs", "HEAD").split()
    source = f"github.com/pypa/advisory-database at {commit}"
    write(trimmed, pins, source, date.fromisoformat(day), out, snapshot)


def _call(url: str, body: object | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AuditError(f"cannot refresh from {OSV}: {reason}") from None


def write_from_osv(pins: Mapping[str, str], out: Path, snapshot: Path) -> None:
    """Every advisory OSV holds for the pinned packages (any version), as of today."""
    ids: set[str] = set()
    queries = [{"package": {"ecosystem": "PyPI", "name": name}} for name in sorted(pins)]
    while queries:
        results = _call(f"{OSV}/querybatch", {"queries": queries})["results"]
        ids.update(v["id"] for result in results for v in result.get("vulns", []))
        queries = [
            {**query, "page_token": result["next_page_token"]}
            for query, result in zip(queries, results, strict=True)
            if result.get("next_page_token")
        ]
    records = (trim(_call(f"{OSV}/vulns/{vuln}"), pins) for vuln in sorted(ids))
    kept = [r for r in records if r is not None]
    write(kept, pins, "api.osv.dev", date.today(), out, snapshot)
