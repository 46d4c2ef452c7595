"""How a setting is declared once and read from the environment.

A declaration names the variable, its type (taken from the default), the default, the
allowed range or choices and one line of documentation. ``ascolto.config`` declares every
setting through a :class:`Declarations`; the loader, the one-line errors and the reference
page (``ascolto.settings_doc``) all read the same declarations.

A default may name another setting as ``$ASCOLTO_X`` (the shell's syntax, so that
``deploy/env.sh`` can write the same text), and the shipped files as ``$defaults``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from string import Template
from typing import Any, Final, TypeVar

from ascolto.defaults import DEFAULTS_DIR
from ascolto.secret import Secret

T = TypeVar("T")
D = TypeVar("D")
METADATA_KEY: Final = "ascolto.setting"
# What a default's ``$defaults`` stands for: the package's files when loading, their place
# in the source tree on the reference page (an absolute path would differ per machine).
DEFAULTS_SHOWN: Final = "ascolto/defaults"

# The description of each type in errors and on the reference page.
KINDS: Final[dict[type, str]] = {
    str: "text",
    int: "whole number",
    float: "number of seconds",  # every fractional setting is a duration
    bool: "true/false",
    Path: "path",
    tuple: "comma-separated list",
    Secret: "secret (or `_FILE`)",
}
# A secret setting is also read from the file that its variable with this suffix names
# (Kubernetes mounts secrets as files).
FILE_SUFFIX: Final = "_FILE"


class ConfigError(ValueError):
    """A setting (or a file the user gave) that must be fixed: the CLI prints it on one line."""


def read_yaml(path: Path, variable: str) -> Any:
    """The YAML file a setting names, parsed; a one-line ConfigError when it cannot be read
    or is not YAML."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{variable}={str(path)!r}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None


@dataclass(frozen=True)
class Setting:
    """One environment variable: everything the loader and the reference page know of it."""

    env: str
    default: str  # as it would be written in the environment; may name ``$ASCOLTO_X``
    doc: str
    kind: type
    section: str = ""  # for a declaration outside the settings classes
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    # deploy/env.sh's default where the stack's differs from a plain install's
    stack_default: str | None = None
    # fixed in deploy/env.sh rather than read from the environment (pinned versions)
    pinned: bool = False

    @property
    def references(self) -> list[str]:
        return [name for name in Template(self.default).get_identifiers() if name != "defaults"]

    def raw(self, env: Mapping[str, str], declared: Mapping[str, Setting]) -> str:
        """The variable's text: as set in ``env``, or the default with its references read."""
        if self.kind is Secret and self.env + FILE_SUFFIX in env:
            return _read_secret_file(self.env, env)
        if self.env in env:
            return env[self.env]
        return resolve(self.default, env, declared)

    def read(self, env: Mapping[str, str], declared: Mapping[str, Setting]) -> Any:
        return self.parse(self.raw(env, declared))

    def parse(self, raw: str) -> Any:
        """The typed value of ``raw``, or a one-line ConfigError naming the variable."""
        if self.kind is bool:
            return _flag(self.env, raw)
        if self.kind is tuple:
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if self.kind is Secret:  # no check that could print it
            return Secret(raw)
        if self.kind is Path:
            return Path(raw)
        if self.choices and raw not in self.choices:
            raise ConfigError(f"{self.env}={raw!r}: expected one of {', '.join(self.choices)}")
        if self.kind in (int, float):
            return self._number(raw)
        return raw

    def _number(self, raw: str) -> float:
        try:
            value: float = self.kind(raw)
        except ValueError:
            raise ConfigError(f"{self.env}={raw!r}: expected a {KINDS[self.kind]}") from None
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{self.env}={raw!r}: must be at least {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(f"{self.env}={raw!r}: must be at most {self.maximum:g}")
        return value

    @property
    def allowed(self) -> str:
        """The range or choices as the reference page shows them."""
        if self.choices:
            return ", ".join(self.choices)
        if self.kind is bool:
            return "true, false (also yes/no, on/off, 1/0)"
        low = "" if self.minimum is None else f"{self.minimum:g}"
        high = "" if self.maximum is None else f"{self.maximum:g}"
        if low and high:
            return f"{low} to {high}"
        return f"at least {low}" if low else (f"at most {high}" if high else "")


@dataclass(frozen=True)
class Derived:
    """A field with no variable of its own: its value is the template read as ``kind``."""

    template: str
    kind: type


class Declarations:
    """Every declared setting by variable, in declaration order (the reference page's)."""

    def __init__(self) -> None:
        self.by_env: dict[str, Setting] = {}

    def __iter__(self) -> Iterator[Setting]:
        return iter(self.by_env.values())

    def declare(
        self, env: str, default: object, doc: str, section: str = "", **checks: Any
    ) -> Setting:
        """A setting that is no field of its own: read by the shell scripts or by defaults.
        ``checks``: ``minimum``, ``maximum``, ``choices``, ``stack_default``, ``pinned``."""
        if env in self.by_env:
            raise ValueError(f"{env} is declared twice")
        setting = Setting(env, _as_text(default), doc, _kind(default), section, **checks)
        unknown = [name for name in setting.references if name not in self.by_env]
        if unknown:
            raise ValueError(f"{env}: its default names {unknown}, not declared before it")
        self.by_env[env] = setting
        setting.read({}, self.by_env)  # the default itself must be valid
        return setting

    def field(self, env: str, default: T, doc: str, **checks: Any) -> T:
        """A dataclass field read from ``env``: its default is the declaration's, resolved."""
        setting = self.declare(env, default, doc, **checks)
        value = setting.read({}, self.by_env)
        return field(default=value, metadata={METADATA_KEY: setting})

    def derived(self, template: T) -> T:
        """A field whose value is other settings' (``Path("$ASCOLTO_RUN_DIR/x")``)."""
        derived = Derived(str(template), _kind(template))
        value = _derive(derived, {}, self.by_env)
        return field(default=value, metadata={METADATA_KEY: derived})

    def load(self, cls: type[D], env: Mapping[str, str]) -> D:
        """``cls`` with every declared field read from ``env`` (nested settings included)."""
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            spec = f.metadata.get(METADATA_KEY)
            if isinstance(spec, Setting):
                values[f.name] = spec.read(env, self.by_env)
            elif isinstance(spec, Derived):
                values[f.name] = _derive(spec, env, self.by_env)
            elif f.default_factory is not MISSING and is_dataclass(f.default_factory):
                values[f.name] = self.load(f.default_factory, env)  # type: ignore[arg-type]
        return cls(**values)


def resolve(template: str, env: Mapping[str, str], declared: Mapping[str, Setting]) -> str:
    """``template`` with each ``$ASCOLTO_X`` read from ``env`` (or its own default), checked."""
    names = Template(template).get_identifiers()
    values = {n: _as_text(declared[n].read(env, declared)) for n in names if n != "defaults"}
    return Template(template).substitute(values, defaults=str(DEFAULTS_DIR))


def _derive(derived: Derived, env: Mapping[str, str], declared: Mapping[str, Setting]) -> Any:
    return derived.kind(resolve(derived.template, env, declared))


def _kind(default: object) -> type:
    return Path if isinstance(default, Path) else type(default)


def _as_text(default: object) -> str:
    """A default as the environment would spell it."""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, tuple):
        return ",".join(default)
    if isinstance(default, Secret):
        return default.reveal()
    return str(default)


def _read_secret_file(env_name: str, env: Mapping[str, str]) -> str:
    """The file's text without its final line break; a one-line ConfigError (naming the
    variable, never the value) when it cannot be read or both variables are set."""
    file_env = env_name + FILE_SUFFIX
    path = env[file_env]
    if env_name in env:
        raise ConfigError(f"{env_name} and {file_env} are both set: set one of them")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"{file_env}={path!r}: cannot read it ({reason})") from None
    return text.removesuffix("\n").removesuffix("\r")


def _flag(env: str, value: str) -> bool:
    """A yes/no variable: true/false, yes/no, on/off or 1/0, any case; anything else is an error."""
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"{env}: not a yes/no value: {value!r} (use true or false)")
