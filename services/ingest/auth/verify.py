"""Who sent a request and what they may post: 401, 403 and 429 with their reasons.

The order a request is judged in: its credential (401), then its body (400, 413, by the
app), then the scope of every contact (403), then the key's rate (429), then validation
(422). A refusal publishes nothing, even with ``?partial=true``.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ascolto.config import ConfigError, IngestSettings
from ascolto.secret import Secret
from services.ingest.auth.keys import (
    BEARER,
    SIGNED,
    ApiKey,
    KeyFileError,
    key_id_of,
    read_secret_file,
    token_hash,
)
from services.ingest.auth.limits import RateLimits
from services.ingest.auth.signing import (
    KEY_ID_HEADER,
    SIGNATURE_HEADER,
    ReplayGuard,
    derive_secret,
    parse_signature,
    signature,
)
from services.ingest.auth.store import LiveKeys

log = logging.getLogger("ascolto.ingest.auth")

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="ascolto"'}
MISSING = "missing credentials: send Authorization: Bearer <key> or a signed request"
UNKNOWN = "unknown or revoked API key"
SCOPED_FIELDS = ("brand", "source")


@dataclass
class Refused(Exception):
    """An answer other than 2xx: its status, reason and what goes with it."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    key_id: str | None = None  # for the DEBUG log line only

    @property
    def metric(self) -> str:
        return {401: "unauthenticated", 403: "out_of_scope", 429: "rate_limited"}[self.status]


def unauthorized(reason: str, key_id: str | None = None) -> Refused:
    return Refused(401, reason, dict(CHALLENGE), key_id=key_id)


class Authenticator:
    """The key a request was sent with, its scope and its rate. One per ingest process."""

    def __init__(
        self,
        keys: LiveKeys,
        master: Secret,
        tolerance_s: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self._master = master
        self.tolerance_s = tolerance_s
        self._clock = clock
        self._replays = ReplayGuard(tolerance_s)
        self._limits = RateLimits()

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> Authenticator:
        """Raises ConfigError (one line naming the variable) when the store cannot be read."""
        auth = settings.auth
        try:
            keys = LiveKeys(auth.keys_file)
        except KeyFileError as exc:
            hint = "; `ascolto keys local` makes one" if not auth.keys_file.exists() else ""
            raise ConfigError(
                f"ASCOLTO_INGEST_KEYS_FILE={str(auth.keys_file)!r}: {exc}{hint}"
            ) from None
        master = auth.signing_secret or read_secret_file(auth.local_signing_file)
        if not master:
            log.warning("no signing secret (ASCOLTO_INGEST_SIGNING_SECRET): signed requests "
                        "will be refused")  # fmt: skip
        return cls(keys, master, auth.signature_tolerance_s)

    def bearer(self, headers: Mapping[str, str]) -> ApiKey | None:
        """The bearer key of the request, None when it is signed instead (check its body with
        ``signed``); Refused 401 when neither is right."""
        header = headers.get("Authorization")
        if header is None:
            if KEY_ID_HEADER in headers or SIGNATURE_HEADER in headers:
                return None
            raise unauthorized(MISSING)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("malformed Authorization header: expected Bearer <key>")
        key_id = key_id_of(token)
        key = self.keys.get(key_id) if key_id else None
        if key is None or not key.active or key.kind != BEARER or key.token_hash is None:
            raise unauthorized(UNKNOWN, key.key_id if key else None)  # log only ids we know
        if not hmac.compare_digest(key.token_hash, token_hash(token)):
            raise unauthorized(UNKNOWN, key.key_id)
        return key

    def signed(self, headers: Mapping[str, str], body: bytes) -> ApiKey:
        """The signed request's key; Refused 401 with the reason when it does not hold."""
        key_id = headers.get(KEY_ID_HEADER, "").strip()
        try:
            t, signatures = parse_signature(headers.get(SIGNATURE_HEADER, ""))
        except ValueError:
            raise unauthorized(
                f"a signed request needs {KEY_ID_HEADER} and {SIGNATURE_HEADER}: t=<unix "
                "seconds>,v1=<hex HMAC-SHA256>"
            ) from None
        key = self.keys.get(key_id)
        if key is None or not key.active or key.kind != SIGNED:
            raise unauthorized("unknown or revoked signing key", key.key_id if key else None)
        if not self._master:
            raise unauthorized("signed requests are not enabled on this ingest", key_id)
        now = self._clock()
        if abs(now - t) > self.tolerance_s:
            raise unauthorized(
                f"signature timestamp more than {self.tolerance_s:g} s from ingest's clock",
                key_id,
            )
        expected = signature(derive_secret(self._master.reveal(), key_id), t, body)
        match = next((s for s in signatures if hmac.compare_digest(s, expected)), None)
        if match is None:
            raise unauthorized("bad signature", key_id)
        if not self._replays.first_time(key_id, t, match, now):
            raise unauthorized("replayed request", key_id)
        return key

    def check_scope(self, key: ApiKey, items: Sequence[Any]) -> None:
        """Refused 403 listing every brand and source outside the key's scope."""
        refused = [
            {"index": i, "field": name, "value": item[name]}
            for i, item in enumerate(items)
            if isinstance(item, dict)
            for name in SCOPED_FIELDS
            if isinstance(item.get(name), str) and not key.allows(name, item[name])
        ]
        if refused:
            reason = (f"{len(refused)} brand or source values are outside the scope of key "
                      f"{key.key_id}; nothing was published")  # fmt: skip
            raise Refused(403, reason, extra={"refused": refused}, key_id=key.key_id)

    def check_rate(self, key: ApiKey, n: int) -> None:
        """Refused 429 with Retry-After when the key's rate has no room for ``n`` contacts."""
        wait = self._limits.retry_after(key.key_id, key.rate, n, time.monotonic())
        if wait:
            reason = (f"rate limit of key {key.key_id} ({key.rate:g} contacts/s) reached; "
                      f"retry in {wait} s")  # fmt: skip
            raise Refused(429, reason, {"Retry-After": str(wait)}, key_id=key.key_id)
