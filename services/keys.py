"""``ascolto keys``: create, list and revoke ingest API keys; ``keys local`` provisions the
key this checkout's CLI, importers, demo and tests use.

A token (or a signed key's secret) is printed once, when it is made, and never again: the
store (ASCOLTO_INGEST_KEYS_FILE) holds only hashes. Ingest sees a change within a second.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

from ascolto.config import ConfigError, IngestAuthSettings, Settings
from services.ingest.auth.keys import (
    BEARER,
    SIGNED,
    ApiKey,
    KeyFileError,
    editing,
    key_id_of,
    new_key,
    read_keys,
    read_secret_file,
    revoked,
    scope,
    token_hash,
    write_private,
)
from services.ingest.auth.signing import derive_secret

LOCAL_NAME = "local"
NO_MASTER = (
    "no signing secret: set ASCOLTO_INGEST_SIGNING_SECRET (or its _FILE), or run "
    "`ascolto keys local` to make {path}"
)


def ensure_local_key(settings: Settings) -> bool:
    """Make sure the local key file holds an active key of the store, and that a signing
    secret exists; True when something was made. Safe to run concurrently."""
    auth = settings.ingest.auth
    made = False
    if not auth.signing_secret and not read_secret_file(auth.local_signing_file):
        write_private(auth.local_signing_file, secrets.token_urlsafe(32).encode() + b"\n")
        made = True
    with _editing(auth) as keys:
        token = read_secret_file(auth.local_key_file).reveal()
        key = keys.get(key_id_of(token) or "")
        if key is not None and key.active and key.token_hash == token_hash(token):
            return made
        key, made_token = new_key(LOCAL_NAME)
        assert made_token is not None
        keys[key.key_id] = key
        write_private(auth.local_key_file, made_token.encode() + b"\n")
    return True


@contextlib.contextmanager
def _editing(auth: IngestAuthSettings) -> Iterator[dict[str, ApiKey]]:
    try:
        with editing(auth.keys_file) as keys:
            yield keys
    except KeyFileError as exc:
        raise ConfigError(f"ASCOLTO_INGEST_KEYS_FILE={str(auth.keys_file)!r}: {exc}") from None


def _master(auth: IngestAuthSettings) -> str:
    master = auth.signing_secret or read_secret_file(auth.local_signing_file)
    if not master:
        raise ConfigError(NO_MASTER.format(path=auth.local_signing_file))
    return master.reveal()


def _create(settings: Settings, args: argparse.Namespace) -> int:
    auth = settings.ingest.auth
    kind = SIGNED if args.signed else BEARER
    master = _master(auth) if args.signed else ""  # before the key exists: no orphan key
    with _editing(auth) as keys:
        key, token = new_key(
            args.name, brands=args.brands, sources=args.sources, rate=args.rate, kind=kind
        )
        keys[key.key_id] = key
    secret = token if token is not None else derive_secret(master, key.key_id)
    what = "API key" if kind == BEARER else "signing secret"
    if args.write:
        write_private(Path(args.write), secret.encode() + b"\n")
        print(f"key {key.key_id} ({args.name}) created; its {what} is in {args.write}")
    else:
        print(f"key {key.key_id} ({args.name}) created; its {what}, shown only now:")
        print(secret)
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    path = settings.ingest.auth.keys_file
    try:
        keys = read_keys(path) if path.exists() else {}
    except KeyFileError as exc:
        raise ConfigError(f"ASCOLTO_INGEST_KEYS_FILE={str(path)!r}: {exc}") from None
    columns = ("id", "name", "kind", "brands", "sources", "rate/s", "created", "revoked")
    rows = [columns] + [
        (k.key_id, k.name, k.kind, ",".join(k.brands), ",".join(k.sources),
         f"{k.rate:g}" if k.rate else "-", k.created_at, k.revoked_at or "-")
        for k in keys.values()
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    with _editing(settings.ingest.auth) as keys:
        key = keys.get(args.key_id)
        if key is None:
            raise ConfigError(f"no key {args.key_id!r} in the store (`ascolto keys list`)")
        keys[key.key_id] = revoked(key)
    state = "was already revoked" if not key.active else "revoked"
    print(f"key {key.key_id} ({key.name}) {state}")
    return 0


def _local(settings: Settings, args: argparse.Namespace) -> int:
    made = ensure_local_key(settings)
    state = "made" if made else "in place"
    print(f"local ingest key {state}: {settings.ingest.auth.local_key_file}")
    return 0


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1
    if rate < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: contacts per second, 0 or more")
    return rate


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="ingest API keys: create, list, revoke")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    create = ksub.add_parser("create", help="make a key; its token is printed once")
    create.add_argument("--name", required=True, help="who uses it, e.g. twitter-importer")
    create.add_argument("--brands", type=scope, default=("*",), help="a,b or * (default)")
    create.add_argument("--sources", type=scope, default=("*",), help="s1,s2 or * (default)")
    create.add_argument("--rate", type=_rate, default=0.0, help="contacts/s; 0: no limit")
    create.add_argument("--signed", action="store_true", help="for signed (HMAC) requests")
    create.add_argument("--write", metavar="FILE", help="write the token to FILE (mode 600)")
    create.set_defaults(func=_create)
    ksub.add_parser("list", help="every key, without secrets").set_defaults(func=_list)
    revoke = ksub.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=_revoke)
    ksub.add_parser(
        "local", help="make sure this checkout's own key exists (make up runs it)"
    ).set_defaults(func=_local)
