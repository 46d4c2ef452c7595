"""API keys and their store: one JSON file of hashes that ``ascolto keys`` writes.

A bearer key's token is ``asc_<key_id>_<secret>``; the store keeps only the SHA-256 of the
whole token. A signed key has no token: its secret is derived from the master signing
secret (services.ingest.auth.signing), so the store holds no secret for it either.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import string
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ascolto.config import ConfigError
from ascolto.secret import Secret

ANY = "*"
BEARER = "bearer"
SIGNED = "signed"
KINDS = (BEARER, SIGNED)
TOKEN_PREFIX = "asc"
# No "_" in a key id, so a token splits into its three parts at the first two.
KEY_ID_ALPHABET = string.ascii_lowercase + string.digits
KEY_ID_CHARS = 10
STORE_VERSION = 1


class KeyFileError(ValueError):
    """The store (or a key file) cannot be read or is not what ``ascolto keys`` writes."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    kind: str  # BEARER or SIGNED
    brands: tuple[str, ...]  # case-folded, or (ANY,)
    sources: tuple[str, ...]  # or (ANY,)
    rate: float  # contacts per second; 0: unlimited
    created_at: str
    revoked_at: str | None = None
    token_hash: str | None = None  # bearer keys only

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, field: str, value: str) -> bool:
        """Whether a contact's ``brand`` or ``source`` is in this key's scope."""
        if field == "brand":
            return ANY in self.brands or value.casefold() in self.brands
        return ANY in self.sources or value in self.sources

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["brands"], record["sources"] = list(self.brands), list(self.sources)
        return record

    @classmethod
    def from_json(cls, record: Any) -> ApiKey:
        if not isinstance(record, dict):
            raise KeyFileError(f"a key is {type(record).__name__}, not an object")
        try:
            key = cls(**{**record, "brands": tuple(record["brands"]),
                         "sources": tuple(record["sources"])})  # fmt: skip
        except (KeyError, TypeError) as exc:
            raise KeyFileError(f"a key has missing or unknown fields ({exc})") from None
        if key.kind not in KINDS or (key.kind == BEARER) != bool(key.token_hash):
            raise KeyFileError(f"key {key.key_id}: kind {key.kind!r} and its hash disagree")
        return key


def scope(text: str) -> tuple[str, ...]:
    """``"*"`` or a comma-separated list, as ``keys create`` takes it."""
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    if not items:
        raise ValueError("empty scope: give names separated by commas, or *")
    return (ANY,) if ANY in items else items


def new_key(
    name: str,
    *,
    brands: Iterable[str] = (ANY,),
    sources: Iterable[str] = (ANY,),
    rate: float = 0,
    kind: str = BEARER,
) -> tuple[ApiKey, str | None]:
    """A new key and, for a bearer key, its token: shown once, never stored."""
    key_id = "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_CHARS))
    token = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}" if kind == BEARER else None
    key = ApiKey(
        key_id=key_id,
        name=name,
        kind=kind,
        brands=tuple(b if b == ANY else b.casefold() for b in brands),
        sources=tuple(sources),
        rate=rate,
        created_at=now_text(),
        token_hash=token_hash(token) if token else None,
    )
    return key, token


def revoked(key: ApiKey) -> ApiKey:
    return key if not key.active else replace(key, revoked_at=now_text())


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    # A token carries 256 random bits: no guessing to slow down, so a fast hash is enough
    # (a slow one, bcrypt or scrypt, protects passwords people choose).
    return hashlib.sha256(token.encode()).hexdigest()


def key_id_of(token: str) -> str | None:
    """The key id a token names, or None when it is not shaped like one of ours."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not secret or not key_id or len(key_id) > 12:
        return None
    return key_id


def read_keys(path: Path) -> dict[str, ApiKey]:
    """The store's keys by id; KeyFileError (one line, no secret) when it cannot be used."""
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise KeyFileError(f"cannot read it ({exc.strerror or type(exc).__name__})") from None
    except orjson.JSONDecodeError:
        raise KeyFileError("not valid JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyFileError('expected {"version": 1, "keys": [...]}')
    keys = [ApiKey.from_json(record) for record in document["keys"]]
    return {key.key_id: key for key in keys}


def write_keys(path: Path, keys: Mapping[str, ApiKey]) -> None:
    records = [key.to_json() for key in keys.values()]
    document = {"version": STORE_VERSION, "keys": records}
    write_private(path, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (a reader sees the old file or the new, whole), mode 600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def editing(path: Path) -> Iterator[dict[str, ApiKey]]:
    """The store's keys to change in place, written back on exit; concurrent editors (two
    test runs making sure of the local key) wait for each other on a lock file beside it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a", opener=lambda p, flags: os.open(p, flags, 0o600)) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        keys = read_keys(path) if path.exists() else {}
        before = dict(keys)
        yield keys
        if keys != before:
            write_keys(path, keys)


def read_secret_file(path: Path) -> Secret:
    """A key or secret file's text (an empty Secret when the file is absent); a one-line
    ConfigError naming the file, never its text, when it cannot be read."""
    try:
        return Secret(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        return Secret()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({type(exc).__name__})") from None
