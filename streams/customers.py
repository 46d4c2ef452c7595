"""Customer identity: who wrote this contact, as the directory knows them.

The ``customers`` topic is keyed by identity (``handle:<handle>``, ``email:<address>``), each
record the full profile, so one person is recognised across channels by any of their handles
or emails. Unknown customers are identified by their normalised handle or email.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Lookup = Callable[[str], Mapping[str, Any] | None]


def normalise_handle(handle: str) -> str:
    return handle.strip().lstrip("@").casefold()


def handle_key(handle: str) -> str:
    return f"handle:{normalise_handle(handle)}"


def email_key(email: str) -> str:
    return f"email:{email.strip().casefold()}"


def identity_keys(profile: Mapping[str, Any]) -> list[str]:
    """Every directory key under which a profile is published."""
    keys = [handle_key(h) for h in profile.get("handles", [])]
    keys += [email_key(e) for e in profile.get("emails", [])]
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class Identity:
    customer_id: str
    account_id: str | None
    tier: str | None
    known: bool


def resolve(contact: Mapping[str, Any], lookup: Lookup) -> Identity:
    candidates: Iterable[str] = (
        [email_key(contact["customer_email"])] if contact.get("customer_email") else []
    ) + [handle_key(contact["customer_handle"])]
    for key in candidates:
        profile = lookup(key)
        if profile is not None:
            return Identity(
                profile["customer_id"], profile.get("account_id"), profile["tier"], True
            )
    fallback = (
        email_key(contact["customer_email"])
        if contact.get("customer_email")
        else handle_key(contact["customer_handle"])
    )
    return Identity(fallback, None, None, False)


def timeline_key(brand: str, customer_id: str) -> bytes:
    """Key of the re-keyed topic and of the timeline table: one brand's one customer."""
    return f"{brand.casefold()}\x1f{customer_id}".encode()
