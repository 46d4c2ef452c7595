"""Signed requests (webhook style): an HMAC-SHA256 of the timestamp and the raw body.

Headers: ``X-Ascolto-Key-Id: <key_id>`` and
``X-Ascolto-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``, keyed with
the key's signing secret: ``HMAC-SHA256(master, "ascolto-ingest-signing:" + key_id)`` in hex,
used as its UTF-8 text. Deriving it means the store holds no secret of a signed key.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac

KEY_ID_HEADER = "X-Ascolto-Key-Id"
SIGNATURE_HEADER = "X-Ascolto-Signature"
DERIVATION_LABEL = "ascolto-ingest-signing:"


def derive_secret(master: str, key_id: str) -> str:
    label = (DERIVATION_LABEL + key_id).encode()
    return hmac.new(master.encode(), label, hashlib.sha256).hexdigest()


def signature(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, t: int, body: bytes) -> str:
    return f"t={t},v1={signature(secret, t, body)}"


def parse_signature(header: str) -> tuple[int, list[str]]:
    """(t, the v1 signatures) of the header; ValueError when it is not of that shape."""
    t: int | None = None
    v1: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise ValueError(part)
        if name == "t":
            t = int(value)
            if abs(t) > 10**12:  # not unix seconds; a float of the clock minus it overflows
                raise ValueError(part)
        elif name == "v1":
            v1.append(value)
    if t is None or not v1:
        raise ValueError(header)
    return t, v1


class ReplayGuard:
    """The (key id, t, signature) seen while their timestamp is within the tolerance.

    An entry can go once its t is too old for the timestamp check to let it through again.
    Bounded: past ``max_entries`` the one that would expire first goes early.
    """

    def __init__(self, tolerance_s: float, max_entries: int = 100_000) -> None:
        self.tolerance_s = tolerance_s
        self.max_entries = max_entries
        self._seen: set[tuple[str, int, str]] = set()
        self._expiry: list[tuple[float, tuple[str, int, str]]] = []

    def first_time(self, key_id: str, t: int, sig: str, now: float) -> bool:
        """True, and remembered, the first time; False for a replay."""
        while self._expiry and (self._expiry[0][0] < now or len(self._seen) >= self.max_entries):
            self._seen.discard(heapq.heappop(self._expiry)[1])
        entry = (key_id, t, sig)
        if entry in self._seen:
            return False
        self._seen.add(entry)
        heapq.heappush(self._expiry, (t + self.tolerance_s, entry))
        return True

    def __len__(self) -> int:
        return len(self._seen)
