"""Settings of secured connections, ingest's API keys and the retention of personal data:
sections of the one declarations table (``ascolto.declared``), gathered by ``ascolto.config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ascolto.declared import DECLARED
from ascolto.secret import Secret

_env = DECLARED.field


# Secured connections: ascolto.clients turns these into each client library's options; a
# secret is also read from the file its `_FILE` variable names (a mounted Kubernetes secret).
KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecurity:
    """Kafka: secured connections"""

    protocol: str = _env(
        "ASCOLTO_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "How every client connects to Kafka: `SASL_*` authenticate a user, `*SSL` use TLS.",
        choices=KAFKA_PROTOCOLS,
    )
    sasl_mechanism: str = _env(
        "ASCOLTO_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "SASL mechanism.", choices=SASL_MECHANISMS
    )
    sasl_username: str = _env("ASCOLTO_KAFKA_SASL_USERNAME", "", "SASL user.")
    sasl_password: Secret = _env(
        "ASCOLTO_KAFKA_SASL_PASSWORD",
        Secret(),
        "SASL password; or `ASCOLTO_KAFKA_SASL_PASSWORD_FILE`, a file holding it.",
    )
    ssl_cafile: str = _env(
        "ASCOLTO_KAFKA_SSL_CAFILE",
        "",
        "PEM CA bundle the brokers' certificates are checked against (empty: the system's).",
    )
    ssl_certfile: str = _env(
        "ASCOLTO_KAFKA_SSL_CERTFILE", "", "PEM client certificate (mutual TLS)."
    )
    ssl_keyfile: str = _env(
        "ASCOLTO_KAFKA_SSL_KEYFILE", "", "PEM key of the client certificate (mutual TLS)."
    )


@dataclass(frozen=True)
class ElasticSecurity:
    """Elasticsearch: secured connections"""

    api_key: Secret = _env(
        "ASCOLTO_ES_API_KEY",
        Secret(),
        "API key (the encoded form); or `ASCOLTO_ES_API_KEY_FILE`, a file holding it.",
    )
    username: str = _env("ASCOLTO_ES_USERNAME", "", "User for basic authentication.")
    password: Secret = _env(
        "ASCOLTO_ES_PASSWORD",
        Secret(),
        "Its password; or `ASCOLTO_ES_PASSWORD_FILE`, a file holding it.",
    )
    ca_certs: str = _env(
        "ASCOLTO_ES_CA_CERTS", "", "PEM CA bundle for an `https` URL (empty: the system's)."
    )


DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class RetentionSettings:
    """Retention of personal data (docs/privacy.md)"""

    # The worker's timelines are bounded by ASCOLTO_RETENTION_S (ThreadingSettings).
    topics_days: int = _env(
        "ASCOLTO_RETENTION_DAYS",
        7,
        "Days contacts.raw, contacts.keyed, contacts.enriched, conversations and sla.events "
        "keep a record (`retention.ms`).",
        minimum=1,
    )
    dlq_days: int = _env(
        "ASCOLTO_DLQ_RETENTION_DAYS",
        30,
        "Days the dead-letter topic keeps a message, with its original bytes.",
        minimum=1,
    )
    audit_days: int = _env(
        "ASCOLTO_AUDIT_RETENTION_DAYS",
        400,
        "Days the audit topic keeps the record of an erasure (it holds no personal data).",
        minimum=1,
    )

    @property
    def topics_ms(self) -> int:
        return self.topics_days * DAY_MS

    @property
    def dlq_ms(self) -> int:
        return self.dlq_days * DAY_MS

    @property
    def audit_ms(self) -> int:
        return self.audit_days * DAY_MS


@dataclass(frozen=True)
class IngestAuthSettings:
    """Ingest service: API keys and TLS (docs/ingest-api.md)"""

    keys_file: Path = _env(
        "ASCOLTO_INGEST_KEYS_FILE",
        Path("$ASCOLTO_RUN_DIR/secrets/ingest-keys.json"),
        "The API keys ingest accepts, as hashes: `ascolto keys` writes it, ingest re-reads it "
        "when it changes; ingest does not start without it.",
    )
    key: Secret = _env(
        "ASCOLTO_INGEST_KEY",
        Secret(),
        "The API key the CLI, importers and demo send; or `ASCOLTO_INGEST_KEY_FILE`, a file "
        "holding it; neither set: `$ASCOLTO_RUN_DIR/secrets/ingest.key` (`ascolto keys local`).",
    )
    local_key_file: Path = DECLARED.derived(Path("$ASCOLTO_RUN_DIR/secrets/ingest.key"))
    signing_secret: Secret = _env(
        "ASCOLTO_INGEST_SIGNING_SECRET",
        Secret(),
        "Master secret of signed requests' per-key secrets; or "
        "`ASCOLTO_INGEST_SIGNING_SECRET_FILE`; neither set: "
        "`$ASCOLTO_RUN_DIR/secrets/ingest-signing.secret` (`ascolto keys local`).",
    )
    local_signing_file: Path = DECLARED.derived(
        Path("$ASCOLTO_RUN_DIR/secrets/ingest-signing.secret")
    )
    signature_tolerance_s: int = _env(
        "ASCOLTO_INGEST_SIGNATURE_TOLERANCE_S",
        300,
        "Seconds a signed request's timestamp may be from ingest's clock; replays within it "
        "are refused.",
        minimum=1,
    )
    tls_certfile: str = _env(
        "ASCOLTO_INGEST_TLS_CERTFILE", "", "PEM certificate: ingest serves HTTPS (with the key)."
    )
    tls_keyfile: str = _env(
        "ASCOLTO_INGEST_TLS_KEYFILE", "", "PEM key of that certificate (with the certificate)."
    )
    ca_file: str = _env(
        "ASCOLTO_INGEST_CA_FILE",
        "",
        "PEM CA bundle clients check an `https` ingest URL against (empty: the system's).",
    )
