"""The run-time part of requirements.lock, with its hashes: what the image installs.

    python3 runtime_requirements.py pyproject.toml requirements.lock >requirements.txt

The lock (pip-compile, `make lock`) pins the whole `.[dev]` environment. The image needs only
the closure of `[project] dependencies`: a locked package belongs to it when one of the
packages the lock says it is required by (its `# via` lines) does. Run by the Containerfile
with the base image's bare Python: standard library only.
"""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


class LockError(ValueError):
    """The lock does not pin what pyproject.toml asks for."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Locked:
    name: str
    version: str
    hashes: list[str] = field(default_factory=list)
    required_by: set[str] = field(default_factory=set)

    def line(self) -> str:
        return " ".join([f"{self.name}=={self.version}", *self.hashes])


def parse_lock(text: str) -> dict[str, Locked]:
    """The lock's packages by normalized name, with their hashes and `# via` parents."""
    packages: dict[str, Locked] = {}
    current: Locked | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        pin = PIN.match(raw)
        if pin:
            current = Locked(pin[1], pin[2].rstrip("\\").strip())
            packages[normalize(pin[1])] = current
            in_via = False
        elif current is None or not line:
            continue
        elif line.startswith("--hash="):
            current.hashes.append(line.rstrip("\\").strip())
        elif line.startswith("# via"):
            parent = line.removeprefix("# via").strip()
            in_via = not parent  # "# via" alone: one parent a line follows
            if parent:
                current.required_by.add(_parent(parent))
        elif in_via and line.startswith("#   "):
            current.required_by.add(_parent(line.removeprefix("#").strip()))
        else:
            in_via = False
    return packages


def _parent(text: str) -> str:
    # "ascolto (pyproject.toml)", or a package name
    match = NAME.match(text)
    return normalize(match[1]) if match else text


def runtime_closure(pyproject: dict, packages: dict[str, Locked]) -> list[Locked]:
    """The locked packages the project's run-time dependencies need, in the lock's order;
    LockError when a dependency is not locked at the version pyproject.toml pins."""
    closure: set[str] = set()
    for requirement in pyproject["project"]["dependencies"]:
        match = NAME.match(requirement)
        assert match, requirement
        name = normalize(match[1])
        locked = packages.get(name)
        pinned = requirement.partition("==")[2].split(";")[0].strip()
        if locked is None or (pinned and pinned != locked.version):
            found = f"{locked.version}" if locked else "nothing"
            raise LockError(f"requirements.lock pins {found} for {requirement!r}: run `make lock`")
        closure.add(name)
    grew = True
    while grew:
        grown = {n for n, p in packages.items() if p.required_by & closure} - closure
        closure |= grown
        grew = bool(grown)
    return [p for n, p in packages.items() if n in closure]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {argv[0]} PYPROJECT LOCK", file=sys.stderr)
        return 2
    pyproject = tomllib.loads(Path(argv[1]).read_text())
    try:
        closure = runtime_closure(pyproject, parse_lock(Path(argv[2]).read_text()))
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    missing = [p.name for p in closure if not p.hashes]
    if missing:
        print(f"error: requirements.lock has no hashes for {', '.join(missing)}", file=sys.stderr)
        return 1
    print(*(p.line() for p in closure), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
