"""Publishes the customer directory to the compacted ``customers`` topic.

Input: JSON lines, one profile each: {"customer_id", "account_id", "name", "tier",
"handles": [...], "emails": [...]}. Each profile is published once per identity key.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer

from ascolto.clients import kafka_options
from ascolto.config import ConfigError, KafkaSettings
from schemas import codec
from schemas.registry import register
from streams.customers import identity_keys


def publish_profiles(settings: KafkaSettings, profiles: Iterable[dict[str, Any]]) -> int:
    producer = KafkaProducer(**kafka_options(settings), acks="all", linger_ms=5)
    sent = 0
    try:
        register(producer, settings.schemas, codec().canonical(["Customer"]))
        for profile in profiles:
            record = {
                "customer_id": profile["customer_id"],
                "account_id": profile.get("account_id"),
                "name": profile.get("name"),
                "tier": profile.get("tier", "standard"),
                "handles": list(profile.get("handles", [])),
                "emails": list(profile.get("emails", [])),
            }
            value = codec().encode("Customer", record)
            for key in identity_keys(record):
                producer.send(settings.customers, key=key.encode(), value=value)
                sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


def load_file(settings: KafkaSettings, path: str | Path) -> int:
    """Publish a directory file, read and checked whole first: a bad line publishes nothing."""
    return publish_profiles(settings, read_profiles(path))


def read_profiles(path: str | Path) -> list[dict[str, Any]]:
    """The profiles of a JSON-lines file; ConfigError naming the file and line otherwise."""
    profiles: list[dict[str, Any]] = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            profile = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not JSON ({exc})") from None
        problem = _problem(profile)
        if problem:
            raise ConfigError(f"{path}:{number}: {problem}")
        profiles.append(profile)
    return profiles


def _problem(profile: Any) -> str | None:
    if not isinstance(profile, dict):
        return "expected an object"
    if not isinstance(profile.get("customer_id"), str) or not profile["customer_id"].strip():
        return "customer_id: required, a non-empty string"
    for name in ("handles", "emails"):
        values = profile.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return f"{name}: expected a list of strings"
    for name in ("account_id", "name", "tier"):
        if profile.get(name) is not None and not isinstance(profile[name], str):
            return f"{name}: expected a string"
    return None
