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

from ascolto.config import KafkaSettings
from schemas import codec
from streams.customers import identity_keys


def publish_profiles(settings: KafkaSettings, profiles: Iterable[dict[str, Any]]) -> int:
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap, acks="all", linger_ms=5)
    sent = 0
    try:
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
    lines = Path(path).read_text().splitlines()
    return publish_profiles(settings, (orjson.loads(line) for line in lines if line.strip()))
