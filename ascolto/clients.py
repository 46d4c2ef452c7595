"""The connection options of each client library, from the settings: one function per library
(kafka-python and aiokafka share one: they name the options alike).

Every Kafka and Elasticsearch client of every process is made with these, so each connects
the same way: plain, over TLS (with a client certificate for mutual TLS) or authenticated
(SASL SCRAM or PLAIN; an Elasticsearch API key or user and password). A missing setting or an
unreadable certificate is a one-line ConfigError naming the variable; a secret is revealed
only into the options handed to the library, never into a message.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import errors as aiokafka_errors
from kafka import errors as kafka_errors

from ascolto.config import ConfigError, ElasticSettings, KafkaSecurity, KafkaSettings

SASL_PASSWORD_VARS = "ASCOLTO_KAFKA_SASL_PASSWORD_FILE or ASCOLTO_KAFKA_SASL_PASSWORD"


def kafka_ssl_context(sec: KafkaSecurity) -> ssl.SSLContext | None:
    """The TLS context of the ``*SSL`` protocols: the brokers checked against the CA bundle
    (or the system's), host names included; the client certificate if one is set."""
    if not sec.protocol.endswith("SSL"):
        return None
    if sec.ssl_keyfile and not sec.ssl_certfile:
        raise ConfigError("ASCOLTO_KAFKA_SSL_KEYFILE is set: set ASCOLTO_KAFKA_SSL_CERTFILE too")
    _readable("ASCOLTO_KAFKA_SSL_CAFILE", sec.ssl_cafile)
    _readable("ASCOLTO_KAFKA_SSL_CERTFILE", sec.ssl_certfile)
    _readable("ASCOLTO_KAFKA_SSL_KEYFILE", sec.ssl_keyfile)
    try:
        context = ssl.create_default_context(cafile=sec.ssl_cafile or None)
    except ssl.SSLError as exc:
        raise ConfigError(f"ASCOLTO_KAFKA_SSL_CAFILE: no PEM CA certificate ({exc})") from None
    if sec.ssl_certfile:
        try:
            context.load_cert_chain(sec.ssl_certfile, sec.ssl_keyfile or None)
        except ssl.SSLError as exc:
            raise ConfigError(
                f"ASCOLTO_KAFKA_SSL_CERTFILE, ASCOLTO_KAFKA_SSL_KEYFILE: no PEM certificate "
                f"and matching key without a passphrase ({exc})"
            ) from None
    return context


def _readable(variable: str, path: str) -> None:
    """A one-line ConfigError naming the variable when the file it names cannot be read."""
    if not path:
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"{variable}={path!r}: cannot read it ({exc.strerror})") from None


def _sasl(sec: KafkaSecurity) -> tuple[str, str] | None:
    """(user, password) of the ``SASL_*`` protocols, checked."""
    if not sec.protocol.startswith("SASL_"):
        return None
    if not sec.sasl_username or not sec.sasl_password:
        raise ConfigError(
            f"ASCOLTO_KAFKA_SECURITY_PROTOCOL={sec.protocol} needs ASCOLTO_KAFKA_SASL_USERNAME "
            f"and a password ({SASL_PASSWORD_VARS})"
        )
    return sec.sasl_username, sec.sasl_password.reveal()


def kafka_options(k: KafkaSettings) -> dict[str, Any]:
    """The keywords of kafka-python's ``KafkaProducer``, ``KafkaConsumer`` and
    ``KafkaAdminClient`` and of aiokafka's ``AIOKafkaProducer`` and ``AIOKafkaConsumer``: the
    two libraries name these options alike."""
    sec = k.security
    options: dict[str, Any] = {"bootstrap_servers": k.bootstrap, "security_protocol": sec.protocol}
    context = kafka_ssl_context(sec)
    if context is not None:
        options["ssl_context"] = context
    sasl = _sasl(sec)
    if sasl is not None:
        options["sasl_mechanism"] = sec.sasl_mechanism
        options["sasl_plain_username"], options["sasl_plain_password"] = sasl
    return options


def faust_options(k: KafkaSettings) -> dict[str, Any]:
    """faust.App's ``broker_credentials`` (faust hands them to aiokafka itself)."""
    import faust

    context = kafka_ssl_context(k.security)
    sasl = _sasl(k.security)
    if sasl is not None:
        user, password = sasl
        # with a context, faust takes the protocol for SASL_SSL
        credentials: Any = faust.SASLCredentials(
            username=user,
            password=password,
            ssl_context=context,
            mechanism=k.security.sasl_mechanism,
        )
        return {"broker_credentials": credentials}
    if context is not None:
        return {"broker_credentials": faust.SSLCredentials(context)}
    return {}


def elasticsearch_options(e: ElasticSettings) -> dict[str, Any]:
    """``Elasticsearch``/``AsyncElasticsearch`` keywords: hosts, the API key or basic
    authentication, the CA bundle."""
    sec = e.security
    options: dict[str, Any] = {"hosts": [e.url]}
    if sec.api_key and (sec.username or sec.password):
        raise ConfigError("ASCOLTO_ES_API_KEY and ASCOLTO_ES_USERNAME are both set: set one")
    if sec.api_key:
        options["api_key"] = sec.api_key.reveal()
    elif sec.username or sec.password:
        if not (sec.username and sec.password):
            raise ConfigError(
                "ASCOLTO_ES_USERNAME needs a password (ASCOLTO_ES_PASSWORD_FILE or "
                "ASCOLTO_ES_PASSWORD), and a password needs the user"
            )
        options["basic_auth"] = (sec.username, sec.password.reveal())
    if sec.ca_certs:
        _readable("ASCOLTO_ES_CA_CERTS", sec.ca_certs)
        options["ca_certs"] = sec.ca_certs
    return options


# kafka-python's and aiokafka's errors for a refused SASL authentication
AUTH_ERRORS = (
    kafka_errors.SaslAuthenticationFailedError,
    aiokafka_errors.AuthenticationFailedError,
    aiokafka_errors.SaslAuthenticationFailed,
)


def credentials_refused(exc: BaseException, k: KafkaSettings) -> str | None:
    """One line for an error that is Kafka refusing this client's SASL user (``exc`` or what
    caused it), None for any other error. Names the settings, never the secret. (kafka-python
    3.0 retries a refused bootstrap until it times out, and raises KafkaTimeoutError instead.)"""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, AUTH_ERRORS):
            sec = k.security
            return (
                f"Kafka refused user {sec.sasl_username!r} ({sec.sasl_mechanism} over "
                f"{sec.protocol}: wrong password, or no such user): check "
                f"ASCOLTO_KAFKA_SASL_USERNAME and {SASL_PASSWORD_VARS}"
            )
        seen = seen.__cause__ or seen.__context__
    return None
