"""The compatibility rule every message type's schema keeps, checked by resolving real data.

The rule (docs/schemas.md) is *full transitive*: each kept version of a type reads what every
other kept version wrote, older and newer. It is checked the way a reader meets it: records
generated from the writer schema are written with fastavro and read back through fastavro's
writer/reader resolution, for every ordered pair of versions. The generated records cover every
enum symbol, every union branch and both empty and filled arrays and maps, so a change that
fails for one value of the writer's (a new enum symbol without a default, a dropped union
branch) fails here too, on every run alike. Pure: no I/O beyond reading the given files.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError

from schemas import SCHEMA_DIR, SCHEMA_FILES, brief_reason, kept_versions, parse

PRIMITIVE_SAMPLES: dict[str, tuple[Any, ...]] = {
    "null": (None,),
    "boolean": (True, False),
    "int": (0, -(2**31), 2**31 - 1),
    "long": (0, -(2**63), 2**63 - 1),
    "float": (0.0, -1.5, 3.25),
    "double": (0.0, -1.5e300, 2.5),
    "bytes": (b"", b"\x00\xff"),
    "string": ("", "é ü 字"),
}


@dataclass(frozen=True)
class Broken:
    """One ordered pair of versions that does not resolve, and fastavro's reason."""

    writer: str
    reader: str
    reason: str

    def __str__(self) -> str:
        return f"{self.reader} cannot read {self.writer}: {self.reason}"


class Samples:
    """Records of one parsed schema, the i-th taking the i-th choice (modulo their number) at
    every enum, union, primitive and collection size, so ``count`` records cover each choice
    of each place once ``count`` exceeds the largest number of choices."""

    def __init__(self, schema: Any) -> None:
        # fastavro leaves a type named twice (or in another file) as its name, a string
        self.named: dict[str, Any] = dict(schema.get("__named_schemas", {}))
        self.schema = schema

    def take(self, count: int) -> list[Any]:
        return [self._one(self.schema, i) for i in range(count)]

    def _one(self, schema: Any, i: int) -> Any:
        if isinstance(schema, list):
            branch = schema[i % len(schema)]
            return self._one(branch, i // len(schema))
        if isinstance(schema, str):
            if schema in PRIMITIVE_SAMPLES:
                values = PRIMITIVE_SAMPLES[schema]
                return values[i % len(values)]
            return self._one(self.named[schema], i)
        kind = schema["type"]
        if kind in ("record", "enum", "fixed"):
            self.named.setdefault(schema["name"], schema)
        if kind == "record":
            return {f["name"]: self._one(f["type"], i + n) for n, f in enumerate(schema["fields"])}
        if kind == "enum":
            return schema["symbols"][i % len(schema["symbols"])]
        if kind == "fixed":
            return bytes([i % 256]) * schema["size"]
        if kind == "array":
            return [self._one(schema["items"], i + n) for n in range(i % 3)]
        if kind == "map":
            return {f"k{n}": self._one(schema["values"], i + n) for n in range(i % 3)}
        return self._one(kind, i)  # {"type": "string"} and the like


def sample_count(schema: Any) -> int:
    """Enough records that each place's every choice occurs: the largest number of choices
    anywhere in the schema, plus a few for nested combinations."""
    widest = 3
    for node in _nodes(schema):
        if isinstance(node, list):
            widest = max(widest, len(node) * 3)
        elif isinstance(node, dict) and node.get("type") == "enum":
            widest = max(widest, len(node["symbols"]))
    return widest * 4


def _nodes(schema: Any) -> Iterator[Any]:
    yield schema
    if isinstance(schema, dict):  # the types it names from elsewhere
        for named in schema.get("__named_schemas", {}).values():
            if named is not schema:
                yield from _nodes({k: v for k, v in named.items() if k != "__named_schemas"})
    if isinstance(schema, list):
        for branch in schema:
            yield from _nodes(branch)
    elif isinstance(schema, dict):
        for key in ("fields", "items", "values"):
            inner = schema.get(key)
            if key == "fields" and inner:
                for f in inner:
                    yield from _nodes(f["type"])
            elif inner is not None:
                yield from _nodes(inner)
        if isinstance(schema.get("type"), dict | list):
            yield from _nodes(schema["type"])


def reads(writer: Any, reader: Any, records: Sequence[Any]) -> str | None:
    """None if ``reader`` resolves every record ``writer`` wrote; else the first reason."""
    for record in records:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, record)
        buf.seek(0)
        try:
            fastavro.schemaless_reader(buf, writer, reader)
        except SchemaResolutionError as exc:
            return brief_reason(exc)
        except Exception as exc:  # a promotion that fails on the value: bytes to string
            return f"{type(exc).__name__}: {brief_reason(exc)}"
    return None


def check(versions: Sequence[tuple[str, Any]]) -> list[Broken]:
    """Every ordered pair of (label, parsed schema) versions that does not resolve."""
    written = {label: Samples(s).take(sample_count(s)) for label, s in versions}
    broken = []
    for w_label, writer in versions:
        for r_label, reader in versions:
            if w_label == r_label:
                continue
            reason = reads(writer, reader, written[w_label])
            if reason is not None:
                broken.append(Broken(w_label, r_label, reason))
    return broken


def parsed_versions(current: Path, named: dict[str, Any]) -> list[tuple[str, Any]]:
    """Each kept version of ``current``'s type, parsed; the types it names from other files
    are resolved to their current versions (each of those is held to the rule in turn)."""
    return [
        (p.name, parse(json.loads(p.read_text()), dict(named))[2]) for p in kept_versions(current)
    ]


def check_all(files: Sequence[str] = SCHEMA_FILES, directory: Path = SCHEMA_DIR) -> list[Broken]:
    """The rule over every kept version of every message type in ``directory``."""
    named: dict[str, Any] = {}
    broken = []
    for file in files:
        current = directory / file
        broken += check(parsed_versions(current, named))
        parse(json.loads(current.read_text()), named)
    return broken
