"""The image's dependencies (deploy/image/runtime_requirements.py): the run-time closure of the
project's dependencies as requirements.lock pins it, with the lock's hashes, and nothing of the
dev tools; a lock that does not pin what pyproject.toml does stops the build."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import tomllib
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from ascolto.config import ROOT

SCRIPT = ROOT / "deploy" / "image" / "runtime_requirements.py"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = (ROOT / "requirements.lock").read_text()


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("runtime_requirements", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


rr = load()


def installed_closure() -> set[str]:
    """What the project's dependencies require, by the installed packages' metadata (the venv
    is installed from the lock)."""
    seen: set[str] = set()
    todo = [Requirement(r).name for r in PYPROJECT["project"]["dependencies"]]
    while todo:
        name = rr.normalize(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_image_gets_the_run_time_closure_the_metadata_gives() -> None:
    closure = rr.runtime_closure(PYPROJECT, rr.parse_lock(LOCK))
    names = {rr.normalize(p.name) for p in closure}
    assert names == installed_closure()
    assert {"pytest", "mypy", "ruff", "hypothesis", "schemathesis", "matplotlib"}.isdisjoint(names)


def test_each_package_comes_with_its_locked_version_and_every_hash() -> None:
    packages = rr.parse_lock(LOCK)
    faust = packages["faust-streaming"]
    assert faust.version == "0.15.3"
    block = LOCK[LOCK.index("faust-streaming==") :].split("# via", 1)[0]
    assert faust.hashes == re.findall(r"--hash=sha256:[0-9a-f]{64}", block)
    assert packages["mode-streaming"].required_by == {"faust-streaming"}
    assert {"aiohttp-cors", "ascolto", "faust-streaming"} == packages["aiohttp"].required_by


def test_the_script_prints_a_hashed_requirements_file() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(ROOT / "pyproject.toml"),
            str(ROOT / "requirements.lock"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(installed_closure())
    assert all(re.fullmatch(r"\S+==\S+( --hash=sha256:[0-9a-f]{64})+", line) for line in lines)


def test_a_lock_behind_pyproject_stops_the_build() -> None:
    packages = rr.parse_lock(LOCK.replace("orjson==3.13.0", "orjson==3.12.0"))
    with pytest.raises(rr.LockError, match=r"pins 3.12.0 for 'orjson==3.13.0': run `make lock`"):
        rr.runtime_closure(PYPROJECT, packages)
    del packages["orjson"]
    with pytest.raises(rr.LockError, match="pins nothing for 'orjson==3.13.0'"):
        rr.runtime_closure(PYPROJECT, packages)
