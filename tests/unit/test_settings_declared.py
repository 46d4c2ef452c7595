"""The settings' one declaration: valid defaults, ranges enforced, each variable read, the
reference page fresh and complete, and the stack scripts' defaults the same as declared."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from ascolto.config import DECLARED, ROOT, ConfigError, Settings
from ascolto.settings_doc import markdown
from ascolto.settings_table import METADATA_KEY, Declarations, Setting
from streams.rules.enrich import Enricher
from streams.sla.policy import load_policy

PAGE = ROOT / "docs" / "configuration.md"
# Where the product reads its variables (tests/ sets its own and is no product).
PRODUCT = [
    "ascolto",
    "services",
    "streams",
    "schemas",
    "grafana",
    "observability",
    "bench",
    "deploy",
]
CODE_SUFFIXES = {".py", ".sh", ".yml", ".yaml", ".json", ".toml"}
NAME = re.compile(r"ASCOLTO_[A-Z][A-Z0-9_]*[A-Z0-9]")
# `${ASCOLTO_X:-default}` (one level of braces inside, for ASCOLTO_ROOT's `${BASH_SOURCE[0]}`)
# and `export ASCOLTO_X=value`, as deploy/env.sh and deploy/stack.sh write them.
SHELL_DEFAULT = re.compile(r"\$\{(ASCOLTO_\w+):-((?:[^{}]|\{[^{}]*\})*)\}")
SHELL_FIXED = re.compile(r"^export (ASCOLTO_\w+)=([^\"$\s]+)$", re.MULTILINE)


def declared_fields(cls: type = Settings, path: tuple[str, ...] = ()) -> Iterator[Any]:
    """(attribute path, Setting) for every field read from its own variable."""
    for f in fields(cls):  # type: ignore[arg-type]
        setting = f.metadata.get(METADATA_KEY)
        if isinstance(setting, Setting):
            yield (*path, f.name), setting
        elif f.default_factory is not MISSING and is_dataclass(f.default_factory):
            yield from declared_fields(f.default_factory, (*path, f.name))  # type: ignore[arg-type]


def attribute(settings: Settings, path: tuple[str, ...]) -> Any:
    value: Any = settings
    for name in path:
        value = getattr(value, name)
    return value


def other_value(s: Setting) -> str:
    """A valid value, different from the default, as the environment would spell it."""
    if s.choices:
        return next(c for c in s.choices if c != s.default)
    if s.kind is bool:
        return "false" if s.default == "true" else "true"
    if s.kind in (int, float):
        return str(int(float(s.default)) + 1)
    return "a,b" if s.kind is tuple else "/elsewhere"


def test_the_defaults_are_valid_and_the_same_with_an_empty_environment() -> None:
    assert Settings.from_env({}) == Settings()
    for s in DECLARED:
        s.read({}, DECLARED.by_env)  # raises ConfigError if a default is out of its own range


@pytest.mark.parametrize(("path", "setting"), list(declared_fields()), ids=lambda p: str(p))
def test_each_declared_variable_is_read_into_its_field(
    path: tuple[str, ...], setting: Setting
) -> None:
    value = other_value(setting)
    loaded = attribute(Settings.from_env({setting.env: value}), path)
    assert loaded != attribute(Settings(), path)
    assert loaded == setting.parse(value)


@pytest.mark.parametrize(
    "setting", [s for s in DECLARED if s.minimum is not None], ids=lambda s: s.env
)
def test_a_value_below_the_minimum_is_refused(setting: Setting) -> None:
    assert setting.minimum is not None
    below = setting.minimum - (1 if setting.kind is int else setting.minimum / 2 or 1)
    raw = str(int(below)) if setting.kind is int else str(below)
    with pytest.raises(ConfigError, match=rf"^{setting.env}='{raw}': must be at least "):
        setting.parse(raw)
    assert setting.parse(f"{setting.minimum:g}") == setting.minimum


def test_ports_stop_at_65535_and_choices_are_listed() -> None:
    with pytest.raises(ConfigError, match=r"ASCOLTO_INGEST_PORT='65536': must be at most 65535"):
        Settings.from_env({"ASCOLTO_INGEST_PORT": "65536"})
    assert Settings.from_env({"ASCOLTO_INGEST_PORT": "65535"}).ingest.port == 65535
    with pytest.raises(ConfigError, match=r"ASCOLTO_EVENT_LOOP='trio': expected one of uvloop"):
        Settings.from_env({"ASCOLTO_EVENT_LOOP": "trio"})


def test_a_variable_is_declared_once() -> None:
    declarations = Declarations()
    declarations.declare("ASCOLTO_X", 1, "one", "tests")
    with pytest.raises(ValueError, match="ASCOLTO_X is declared twice"):
        declarations.declare("ASCOLTO_X", 2, "again", "tests")
    with pytest.raises(ValueError, match=r"ASCOLTO_Y: its default names \['ASCOLTO_Z'\]"):
        declarations.declare("ASCOLTO_Y", "$ASCOLTO_Z/x", "a reference to nothing", "tests")
    # every field's declaration is the registered one, so the page lists each field
    assert all(DECLARED.by_env[s.env] is s for _, s in declared_fields())


def test_defaults_that_name_other_settings_follow_them() -> None:
    env = {"ASCOLTO_HOST": "10.0.0.7", "ASCOLTO_KAFKA_PORT": "9092", "ASCOLTO_RUN_DIR": "/srv"}
    settings = Settings.from_env(env)
    assert settings.kafka.bootstrap == "10.0.0.7:9092"
    assert settings.elastic.url == "http://10.0.0.7:19200"
    assert settings.ingest.host == settings.worker.web_host == "10.0.0.7"
    assert settings.worker.data_dir == Path("/srv/worker-data")
    assert settings.run_dir == Path("/srv")
    given = Settings.from_env({**env, "ASCOLTO_KAFKA_BOOTSTRAP": "kafka:9092"})
    assert given.kafka.bootstrap == "kafka:9092"
    with pytest.raises(ConfigError, match="ASCOLTO_KAFKA_PORT='x': expected a whole number"):
        Settings.from_env({"ASCOLTO_KAFKA_PORT": "x"})


def test_the_shipped_policy_and_rules_load_from_the_package() -> None:
    worker = Settings().worker
    assert worker.sla_policies_path.parent.name == "defaults"
    assert load_policy(worker.sla_policies_path).rules
    assert Enricher.from_file(worker.intents_path).rules.intents


def test_the_reference_page_is_fresh() -> None:
    assert PAGE.read_text(encoding="utf-8") == markdown(), "run `make config-doc` and commit it"


def product_files() -> Iterator[Path]:
    yield ROOT / "Makefile"
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in CODE_SUFFIXES and "results" not in path.parts:
                yield path


def test_every_variable_the_product_names_is_on_the_page() -> None:
    named = {n for p in product_files() for n in NAME.findall(p.read_text(errors="replace"))}
    assert len(named) > 40
    page = PAGE.read_text(encoding="utf-8")
    assert sorted(n for n in named if f"`{n}`" not in page) == []


def test_the_stack_scripts_defaults_are_the_declared_ones() -> None:
    compared = 0
    for script in ("env.sh", "stack.sh"):
        text = (ROOT / "deploy" / script).read_text()
        pairs = SHELL_DEFAULT.findall(text) + SHELL_FIXED.findall(text)
        for name, default in pairs:
            setting = DECLARED.by_env[name]
            if default.startswith("$("):  # computed by the shell: ASCOLTO_ROOT, the checkout
                continue
            expected = setting.default if setting.stack_default is None else setting.stack_default
            assert (name, default) == (name, expected)
            assert setting.pinned == ((name, default) in SHELL_FIXED.findall(text))
            compared += 1
    assert compared >= 20


def test_every_shipped_file_is_package_data() -> None:
    """What the package reads at run time beside its modules is in the wheel, so an install
    outside a checkout finds it (checked by hand once: `pip wheel`, then load from a venv)."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    for package in ("ascolto.defaults", "schemas"):
        folder = ROOT.joinpath(*package.split("."))
        data = [p for p in folder.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")]
        assert data
        for path in data:
            relative = path.relative_to(folder)
            assert any(relative.match(glob) for glob in package_data[package]), relative
