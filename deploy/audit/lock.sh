#!/usr/bin/env bash
# `make lock`: rewrite requirements.lock from pyproject.toml, every package `make venv` installs
# pinned with its hashes. Pins already in the lock are kept; a new or changed pin in
# pyproject.toml is resolved afresh. pip-tools runs from a throwaway venv, not the project's.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet pip-tools==7.7.0
cd "$root"
CUSTOM_COMPILE_COMMAND="make lock" "$tools/bin/pip-compile" --quiet --extra dev --strip-extras --generate-hashes --allow-unsafe \
  --no-emit-index-url --no-emit-find-links \
  --output-file requirements.lock pyproject.toml "$@"
