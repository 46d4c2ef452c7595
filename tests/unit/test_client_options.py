"""Secured connections, from the settings to each client library (ascolto.clients).

Kafka is tested for real over SASL_SSL and mutual TLS in tests/integration/test_secured.py.
The Elasticsearch distribution the stack runs has no security module, so the Elasticsearch
options are tested here against a stand-in HTTP(S) server: what the clients send (the API
key, the user and password) and which server certificates they accept (the CA bundle)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import TlsError
from elasticsearch import Elasticsearch
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import errors as kafka_errors

from ascolto.clients import (
    credentials_refused,
    elasticsearch_options,
    faust_options,
    kafka_options,
)
from ascolto.config import ConfigError, Settings
from ascolto.search import client
from ascolto.secret import Secret
from streams.app import worker_app
from streams.sinks.elastic import async_client
from tests.unit.test_faust_ext import created_consumer

PASSWORD = "s3cr3t-Pa55word"


# --- certificates -------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    d = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-new", "-newkey", "rsa:2048", "-noenc", "-keyout", "ca.key",
            "-days", "2", "-subj", "/CN=test CA", "-out", "ca.crt", cwd=d)  # fmt: skip
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("client", "keyUsage=digitalSignature"),
    ):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-new", "-newkey", "rsa:2048", "-noenc", "-keyout", f"{name}.key",
                "-subj", f"/CN={name}", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                "-out", f"{name}.crt", cwd=d)  # fmt: skip
    return d


def settings(**env: str) -> Settings:
    return Settings.from_env(env)


def sasl_ssl(tls: Path, **more: str) -> Settings:
    return settings(
        ASCOLTO_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        ASCOLTO_KAFKA_SASL_USERNAME="ascolto",
        ASCOLTO_KAFKA_SASL_PASSWORD=PASSWORD,
        ASCOLTO_KAFKA_SSL_CAFILE=str(tls / "ca.crt"),
        **more,
    )


def mutual_tls(tls: Path) -> Settings:
    return settings(
        ASCOLTO_KAFKA_SECURITY_PROTOCOL="SSL",
        ASCOLTO_KAFKA_SSL_CAFILE=str(tls / "ca.crt"),
        ASCOLTO_KAFKA_SSL_CERTFILE=str(tls / "client.crt"),
        ASCOLTO_KAFKA_SSL_KEYFILE=str(tls / "client.key"),
    )


# --- secrets ------------------------------------------------------------------------------


def test_a_secret_shows_in_no_repr_str_or_error(tmp_path: Path) -> None:
    s = settings(ASCOLTO_KAFKA_SASL_PASSWORD=PASSWORD, ASCOLTO_ES_API_KEY=PASSWORD)
    assert s.kafka.security.sasl_password.reveal() == PASSWORD
    assert s.elastic.security.api_key.reveal() == PASSWORD
    for shown in (repr(s), str(s), f"{s.kafka.security.sasl_password}"):
        assert PASSWORD not in shown
    assert "Secret('***')" in repr(s.kafka)
    assert repr(Settings().kafka.security.sasl_password) == "Secret('')"
    assert Secret(PASSWORD) == Secret(PASSWORD) != Secret("other")


def test_a_secret_is_read_from_its_file_at_load(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")  # as `echo ... >file` and most secret tools write it
    path.chmod(0o600)
    s = settings(ASCOLTO_KAFKA_SASL_PASSWORD_FILE=str(path), ASCOLTO_ES_PASSWORD_FILE=str(path))
    assert s.kafka.security.sasl_password.reveal() == PASSWORD
    assert s.elastic.security.password.reveal() == PASSWORD
    (tmp_path / "key").write_text("a2V5OnNlY3JldA==")
    key = settings(ASCOLTO_ES_API_KEY_FILE=str(tmp_path / "key")).elastic.security.api_key
    assert key.reveal() == "a2V5OnNlY3JldA=="


def test_a_missing_secret_file_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    gone = tmp_path / "nothing-here"
    with pytest.raises(ConfigError) as raised:
        settings(ASCOLTO_KAFKA_SASL_PASSWORD_FILE=str(gone))
    assert str(raised.value) == (
        f"ASCOLTO_KAFKA_SASL_PASSWORD_FILE={str(gone)!r}: "
        "cannot read it (No such file or directory)"
    )
    with pytest.raises(ConfigError, match=r"^ASCOLTO_ES_API_KEY_FILE='/': cannot read it \("):
        settings(ASCOLTO_ES_API_KEY_FILE="/")  # a directory
    both = {"ASCOLTO_ES_PASSWORD": PASSWORD, "ASCOLTO_ES_PASSWORD_FILE": str(gone)}
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(both)
    assert str(raised.value) == (
        "ASCOLTO_ES_PASSWORD and ASCOLTO_ES_PASSWORD_FILE are both set: set one of them"
    )
    assert PASSWORD not in str(raised.value)


# --- Kafka --------------------------------------------------------------------------------


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    k = Settings().kafka
    assert kafka_options(k) == {"bootstrap_servers": k.bootstrap, "security_protocol": "PLAINTEXT"}
    assert faust_options(k) == {}


def test_sasl_ssl_checks_the_broker_against_the_ca_and_authenticates(tls: Path) -> None:
    options = kafka_options(sasl_ssl(tls).kafka)
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "127.0.0.1:19092",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ascolto",
        "sasl_plain_password": PASSWORD,
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [dict(c["subject"][0])["commonName"] for c in context.get_ca_certs()] == ["test CA"]


def test_a_client_certificate_is_presented_for_mutual_tls(tls: Path) -> None:
    options = kafka_options(mutual_tls(tls).kafka)
    assert options["security_protocol"] == "SSL" and "sasl_mechanism" not in options
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls / "ca.crt"))
    server.load_cert_chain(tls / "server.crt", tls / "server.key")
    server.verify_mode = ssl.CERT_REQUIRED
    assert handshake(server, options["ssl_context"]) == "client"
    with pytest.raises(ssl.SSLError):  # the same server refuses a client without one
        handshake(server, kafka_options(sasl_ssl(tls).kafka)["ssl_context"])


def handshake(server: ssl.SSLContext, client_context: ssl.SSLContext) -> str:
    """TLS between the two contexts in memory; the common name of the client's certificate."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client_context.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    s = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for end in (c, s):
            with contextlib.suppress(ssl.SSLWantReadError):
                end.do_handshake()
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    cert = s.getpeercert()
    assert cert, "no handshake"
    return str(dict(cert["subject"][0])["commonName"])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ASCOLTO_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "ASCOLTO_KAFKA_SASL_USERNAME": "a"},
            "ASCOLTO_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs ASCOLTO_KAFKA_SASL_USERNAME and a "
            "password (ASCOLTO_KAFKA_SASL_PASSWORD_FILE or ASCOLTO_KAFKA_SASL_PASSWORD)",
        ),
        (
            {"ASCOLTO_KAFKA_SECURITY_PROTOCOL": "SSL", "ASCOLTO_KAFKA_SSL_CAFILE": "/no/ca.pem"},
            "ASCOLTO_KAFKA_SSL_CAFILE='/no/ca.pem': cannot read it (No such file or directory)",
        ),
        (
            {"ASCOLTO_KAFKA_SECURITY_PROTOCOL": "SSL", "ASCOLTO_KAFKA_SSL_KEYFILE": "/k.pem"},
            "ASCOLTO_KAFKA_SSL_KEYFILE is set: set ASCOLTO_KAFKA_SSL_CERTFILE too",
        ),
    ],
)
def test_an_incomplete_kafka_setting_is_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        kafka_options(Settings.from_env(env).kafka)
    assert str(raised.value) == message


def test_a_refused_user_is_one_line_naming_the_settings(tls: Path) -> None:
    k = sasl_ssl(tls).kafka
    try:
        try:
            raise kafka_errors.SaslAuthenticationFailedError("invalid credentials")
        except kafka_errors.KafkaError as exc:
            raise RuntimeError("setup failed") from exc
    except RuntimeError as outer:
        message = credentials_refused(outer, k)
    assert message == (
        "Kafka refused user 'ascolto' (SCRAM-SHA-512 over SASL_SSL: wrong password, or no such "
        "user): check ASCOLTO_KAFKA_SASL_USERNAME and ASCOLTO_KAFKA_SASL_PASSWORD_FILE or "
        "ASCOLTO_KAFKA_SASL_PASSWORD"
    )
    assert credentials_refused(kafka_errors.KafkaConnectionError("refused"), k) is None


def test_a_key_that_does_not_match_its_certificate_is_named(tls: Path) -> None:
    env = {
        "ASCOLTO_KAFKA_SECURITY_PROTOCOL": "SSL",
        "ASCOLTO_KAFKA_SSL_CERTFILE": str(tls / "client.crt"),
        "ASCOLTO_KAFKA_SSL_KEYFILE": str(tls / "server.key"),
    }
    with pytest.raises(ConfigError, match="^ASCOLTO_KAFKA_SSL_CERTFILE, ASCOLTO_KAFKA_SSL_KEYFILE"):
        kafka_options(Settings.from_env(env).kafka)


def test_the_worker_consumer_and_producer_authenticate_as_the_settings_say(tls: Path) -> None:
    s = sasl_ssl(tls, ASCOLTO_KAFKA_BOOTSTRAP="127.0.0.1:9")  # nothing listens: no connection
    app = worker_app(s)
    client_kept = created_consumer(app)._client
    assert client_kept._security_protocol == "SASL_SSL"
    assert client_kept._sasl_mechanism == "SCRAM-SHA-512"
    assert client_kept._sasl_plain_username == "ascolto"
    assert client_kept._sasl_plain_password == PASSWORD
    assert client_kept._ssl_context.get_ca_certs()[0]["subject"] == ((("commonName", "test CA"),),)
    # faust's producer (and admin) take the app's credentials the same way
    auth = credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
    assert {k: v for k, v in auth.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ascolto",
        "sasl_plain_password": PASSWORD,
    }
    assert PASSWORD not in repr(app.conf.broker_credentials)


def test_mutual_tls_reaches_faust_as_ssl_credentials(tls: Path) -> None:
    credentials = faust_options(mutual_tls(tls).kafka)["broker_credentials"]
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SSL"
    assert handshake(server_context(tls, client_auth=True), auth["ssl_context"]) == "client"


def server_context(tls: Path, client_auth: bool = False) -> ssl.SSLContext:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls / "ca.crt"))
    server.load_cert_chain(tls / "server.crt", tls / "server.key")
    if client_auth:
        server.verify_mode = ssl.CERT_REQUIRED
    return server


# --- Elasticsearch ------------------------------------------------------------------------


class StandIn(BaseHTTPRequestHandler):
    """Answers every GET as Elasticsearch's root would, and keeps the requests' headers."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        StandIn.seen.append(dict(self.headers))
        body = json.dumps({"version": {"number": "8.19.7"}, "tagline": "You Know, for Search"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def es_server(tls: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A stand-in on a free port: ``http``, or ``https`` with the CA-signed certificate."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    scheme = getattr(request, "param", "http")
    if scheme == "https":
        server.socket = server_context(tls).wrap_socket(server.socket, server_side=True)
    StandIn.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_elasticsearch_with_an_api_key(es_server: str) -> None:
    e = settings(ASCOLTO_ES_URL=es_server, ASCOLTO_ES_API_KEY="a2V5OnNlY3JldA==").elastic
    client(e).info()
    asyncio.run(info_async(e))
    assert [h["authorization"] for h in StandIn.seen] == ["ApiKey a2V5OnNlY3JldA=="] * 2


def test_elasticsearch_with_a_user_and_password(es_server: str, tmp_path: Path) -> None:
    (tmp_path / "password").write_text(PASSWORD + "\n")
    e = settings(
        ASCOLTO_ES_URL=es_server,
        ASCOLTO_ES_USERNAME="ascolto",
        ASCOLTO_ES_PASSWORD_FILE=str(tmp_path / "password"),
    ).elastic
    client(e).info()
    asyncio.run(info_async(e))
    basic = "Basic " + base64.b64encode(f"ascolto:{PASSWORD}".encode()).decode()
    assert [h["authorization"] for h in StandIn.seen] == [basic] * 2


def test_elasticsearch_without_credentials_sends_none(es_server: str) -> None:
    client(settings(ASCOLTO_ES_URL=es_server).elastic).info()
    assert "authorization" not in {k.lower() for k in StandIn.seen[0]}


@pytest.mark.parametrize("es_server", ["https"], indirect=True)
def test_elasticsearch_checks_the_server_against_the_ca_bundle(es_server: str, tls: Path) -> None:
    e = settings(ASCOLTO_ES_URL=es_server, ASCOLTO_ES_CA_CERTS=str(tls / "ca.crt")).elastic
    assert client(e).info()["version"]["number"] == "8.19.7"
    asyncio.run(info_async(e))
    untrusted = Elasticsearch(es_server, max_retries=0)  # the system's CAs do not know ours
    with pytest.raises(TlsError):
        untrusted.info()
    assert len(StandIn.seen) == 2


async def info_async(e: Any) -> None:
    es = async_client(e, request_timeout=10)
    try:
        await es.info()
    finally:
        await es.close()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ASCOLTO_ES_API_KEY": "k", "ASCOLTO_ES_USERNAME": "u"},
            "ASCOLTO_ES_API_KEY and ASCOLTO_ES_USERNAME are both set: set one",
        ),
        ({"ASCOLTO_ES_USERNAME": "u"}, "ASCOLTO_ES_USERNAME needs a password"),
        ({"ASCOLTO_ES_PASSWORD": PASSWORD}, "ASCOLTO_ES_USERNAME needs a password"),
        ({"ASCOLTO_ES_CA_CERTS": "/no/ca.pem"}, "ASCOLTO_ES_CA_CERTS='/no/ca.pem': cannot read"),
    ],
)
def test_an_incomplete_elasticsearch_setting_is_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        elasticsearch_options(Settings.from_env(env).elastic)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value) and PASSWORD not in str(raised.value)
