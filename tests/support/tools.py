"""The servers' command-line tools the tests run (promtool, amtool, prometheus), from
Debian's packages."""

from __future__ import annotations

import shutil

import pytest


def tool(name: str) -> str:
    """The tool's path; the test fails, saying how to install it, when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: `deploy/stack.sh install` installs it (Debian packages)")
    return path
