"""The key store and `ascolto keys`: tokens shown once and stored as hashes, revocation, the
local key, and ingest's reading of the store while it runs."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from ascolto.config import ConfigError, Settings
from services.cli import main
from services.ingest.auth.keys import (
    KEY_ID_CHARS,
    SIGNED,
    editing,
    key_id_of,
    new_key,
    read_keys,
    token_hash,
)
from services.ingest.auth.signing import derive_secret
from services.ingest.auth.store import LiveKeys
from services.ingest.auth.verify import Authenticator
from services.keys import ensure_local_key

AUTH_VARIABLES = (
    "ASCOLTO_INGEST_KEY",
    "ASCOLTO_INGEST_KEY_FILE",
    "ASCOLTO_INGEST_KEYS_FILE",
    "ASCOLTO_INGEST_SIGNING_SECRET",
    "ASCOLTO_INGEST_SIGNING_SECRET_FILE",
)


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASCOLTO_RUN_DIR", str(tmp_path))
    return tmp_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_token_names_its_key_and_only_its_hash_is_kept() -> None:
    key, token = new_key("twitter-importer", brands=("Acme",))
    assert token is not None and token.startswith(f"asc_{key.key_id}_")
    assert len(key.key_id) == KEY_ID_CHARS and key_id_of(token) == key.key_id
    secret = token.removeprefix(f"asc_{key.key_id}_")
    assert key.token_hash == token_hash(token) and len(secret) == 43  # 32 bytes, base64
    assert key.brands == ("acme",) and key.allows("brand", "ACME")
    assert not key.allows("brand", "globex") and key.allows("source", "anything")
    assert key_id_of("asc__x") is None and key_id_of("bearer-thing") is None


def test_create_list_revoke_round_trip(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["keys", "create", "--name", "tw", "--brands", "Acme,beta", "--sources", "twitter"]
    assert main([*args, "--rate", "5"]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    key_id = key_id_of(token)
    assert key_id is not None
    store = run_dir / "secrets" / "ingest-keys.json"
    assert mode(store) == 0o600 and token not in store.read_text()

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "acme,beta" in listing and "twitter" in listing
    assert token not in listing and token_hash(token) not in listing and " 5 " in listing

    assert main(["keys", "revoke", key_id]) == 0
    assert f"key {key_id} (tw) revoked" in capsys.readouterr().out
    assert read_keys(store)[key_id].revoked_at is not None
    assert main(["keys", "revoke", "nosuchkey"]) == 2
    assert "no key 'nosuchkey'" in capsys.readouterr().err


def test_create_write_and_signed_keys(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "hook", "--signed"]) == 2
    assert "no signing secret" in capsys.readouterr().err
    assert main(["keys", "local"]) == 0
    capsys.readouterr()
    assert main(["keys", "create", "--name", "hook", "--signed"]) == 0
    secret = capsys.readouterr().out.splitlines()[-1]
    [hook] = [k for k in read_keys(run_dir / "secrets" / "ingest-keys.json").values()
              if k.name == "hook"]  # fmt: skip
    master = (run_dir / "secrets" / "ingest-signing.secret").read_text().strip()
    assert hook.kind == SIGNED and hook.token_hash is None
    assert secret == derive_secret(master, hook.key_id)

    out = run_dir / "importer.key"
    assert main(["keys", "create", "--name", "imp", "--write", str(out)]) == 0
    printed = capsys.readouterr().out
    token = out.read_text().strip()
    assert mode(out) == 0o600 and token not in printed and key_id_of(token) in printed


def test_the_local_key_is_made_once_and_remade_when_revoked(run_dir: Path) -> None:
    settings = Settings.from_env({"ASCOLTO_RUN_DIR": str(run_dir)})
    assert ensure_local_key(settings) is True
    assert ensure_local_key(settings) is False
    key_file = run_dir / "secrets" / "ingest.key"
    token = key_file.read_text().strip()
    assert mode(key_file) == 0o600 and mode(run_dir / "secrets" / "ingest-signing.secret") == 0o600
    with editing(settings.ingest.auth.keys_file) as keys:
        [local] = keys.values()
        assert local.brands == ("*",) and local.sources == ("*",) and local.rate == 0
        keys[local.key_id] = local.__class__(**{**local.to_json(), "revoked_at": "now",
                                                "brands": ("*",), "sources": ("*",)})  # fmt: skip
    assert ensure_local_key(settings) is True
    assert key_file.read_text().strip() != token


def test_ingest_refuses_to_start_without_its_store(run_dir: Path) -> None:
    settings = Settings.from_env({"ASCOLTO_RUN_DIR": str(run_dir)})
    with pytest.raises(ConfigError) as refused:
        Authenticator.from_settings(settings.ingest)
    assert str(refused.value).startswith("ASCOLTO_INGEST_KEYS_FILE=")
    assert "`ascolto keys local` makes one" in str(refused.value)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_changed_store_is_read_within_a_second(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ascolto")
    path, clock = tmp_path / "keys.json", Clock()
    first, _ = new_key("first")
    with editing(path) as keys:
        keys[first.key_id] = first
    live = LiveKeys(path, check_every_s=1.0, clock=clock)
    assert "1 active keys" in caplog.text
    second, _ = new_key("second")
    with editing(path) as keys:
        keys[second.key_id] = second
    assert live.get(second.key_id) is None  # looked at again at most once a second
    clock.now += 1.0
    assert live.get(second.key_id) == second and "2 active keys" in caplog.text


def test_an_unparsable_store_keeps_the_last_good_keys_and_warns_once(
    tmp_path: Path, caplog
) -> None:
    path, clock = tmp_path / "keys.json", Clock()
    key, _ = new_key("kept")
    with editing(path) as keys:
        keys[key.key_id] = key
    live = LiveKeys(path, check_every_s=1.0, clock=clock)
    path.write_text('{"version": 1, "keys": [{"key_id": ')  # a half-written file
    for _ in range(3):
        clock.now += 1.0
        assert live.get(key.key_id) == key
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not valid JSON" in warnings[0].getMessage()
    assert "keeping the 1 keys read before" in warnings[0].getMessage()
