"""Later versions of the shipped schemas, made in a test's own directory (never in the package):
what a newer writer would ship, compatible or deliberately not."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas import (
    SCHEMA_DIR,
    SCHEMA_FILES,
    Codec,
    current_and_history,
    first_versions,
    kept_versions,
)

# The field version 2 of Contact adds: optional, so each version reads the other.
NEW_FIELD = "satisfaction"
WITH_NEW_FIELD = {"name": NEW_FIELD, "type": ["null", "int"], "default": None}

Schema = dict[str, Any]


def add_new_field(schema: Schema) -> None:
    schema["fields"].append(dict(WITH_NEW_FIELD))


def field(schema: Schema, name: str) -> Schema:
    return next(f for f in schema["fields"] if f["name"] == name)


def evolve(directory: Path, file: str, change: Callable[[Schema], None]) -> Path:
    """``directory`` with copies of every shipped schema file, and the next version of
    ``file`` made by ``change``; returns the new version's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in SCHEMA_DIR.glob("*.avsc"):
        shutil.copy(path, directory / path.name)
    versions = kept_versions(directory / file)
    schema = json.loads(versions[-1].read_text())
    change(schema)
    stem = file.split(".v", 1)[0]
    new = directory / f"{stem}.v{len(versions) + 1}.avsc"
    new.write_text(json.dumps(schema, indent=2))
    return new


def current_files(new: Path) -> tuple[str, ...]:
    """SCHEMA_FILES with ``new`` in place of the version it follows."""
    stem = new.name.split(".v", 1)[0]
    return tuple(new.name if f.split(".v", 1)[0] == stem else f for f in SCHEMA_FILES)


def codec_of(directory: Path, files: tuple[str, ...]) -> Codec:
    """A codec as ``schemas.codec()`` builds one, over ``directory``'s ``files``."""
    current, history = current_and_history(files, directory)
    return Codec(current, history=history, first=first_versions(files, directory))
