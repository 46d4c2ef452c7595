"""Optional TLS on the ingest listener: both a certificate and its key, or neither."""

from __future__ import annotations

import ssl

from ascolto.config import ConfigError, IngestAuthSettings

CERT = "ASCOLTO_INGEST_TLS_CERTFILE"
KEY = "ASCOLTO_INGEST_TLS_KEYFILE"


def server_context(auth: IngestAuthSettings) -> ssl.SSLContext | None:
    """The listener's TLS context, None for plain HTTP; a one-line ConfigError otherwise."""
    if not auth.tls_certfile and not auth.tls_keyfile:
        return None
    if not auth.tls_certfile or not auth.tls_keyfile:
        missing = CERT if not auth.tls_certfile else KEY
        raise ConfigError(f"{missing} is not set: set both {CERT} and {KEY}, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(auth.tls_certfile, auth.tls_keyfile)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ConfigError(
            f"{CERT}={auth.tls_certfile!r}, {KEY}={auth.tls_keyfile!r}: cannot load them ({reason})"
        ) from None
    return context
