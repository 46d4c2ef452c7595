"""docs/configuration.md, written from the settings' declarations (``make config-doc``).

``python -m ascolto.settings_doc`` prints the page; ``--check PATH`` exits 1 when the page
at PATH differs from what the declarations make (tests/unit/test_settings_declared.py does
the same in ``make test-unit``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from string import Template

from ascolto.config import ADDRESSES, DECLARED, STACK, Settings
from ascolto.settings_table import DEFAULTS_SHOWN, KINDS, METADATA_KEY, Setting

INTRO = """\
# Configuration

<!-- Generated from ascolto/config.py by `make config-doc`: edit the declarations. -->

Every setting is an environment variable, read once when a service starts
(`Settings.from_env`). A value out of its range stops the service with one line naming the
variable. A default written `$ASCOLTO_X` is that variable's value (as in `deploy/env.sh`);
`ascolto/defaults/` is the copy of the files shipped inside the package.
"""


def sections() -> Iterator[tuple[str, list[Setting]]]:
    """The page's sections in order: addresses, the settings classes, the local stack."""
    yield ADDRESSES, [s for s in DECLARED if s.section == ADDRESSES]
    yield from _classes(Settings)
    yield STACK, [s for s in DECLARED if s.section == STACK]


def _classes(cls: type) -> Iterator[tuple[str, list[Setting]]]:
    own = [f.metadata.get(METADATA_KEY) for f in fields(cls)]  # type: ignore[arg-type]
    settings = [s for s in own if isinstance(s, Setting)]
    if settings:
        yield (cls.__doc__ or cls.__name__).strip(), settings
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default_factory is not MISSING and is_dataclass(f.default_factory):
            yield from _classes(f.default_factory)  # type: ignore[arg-type]


def _row(s: Setting) -> str:
    default = Template(s.default).safe_substitute(defaults=DEFAULTS_SHOWN)
    meaning = s.doc
    if s.pinned:
        meaning += " Fixed in deploy/env.sh, not read from the environment."
    if s.stack_default is not None:
        meaning += f" deploy/env.sh's default: `{s.stack_default}`."
    cells = [f"`{s.env}`", KINDS[s.kind], f"`{default}`" if default else "", s.allowed, meaning]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown() -> str:
    parts = [INTRO]
    for title, settings in sections():
        parts.append(f"\n## {title}\n\n| Variable | Type | Default | Range | Meaning |\n")
        parts.append("| --- | --- | --- | --- | --- |\n")
        parts.extend(_row(s) + "\n" for s in settings)
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ascolto.settings_doc", description=__doc__)
    parser.add_argument("--check", type=Path, metavar="PATH", help="fail if PATH is stale")
    args = parser.parse_args(argv)
    page = markdown()
    if args.check is None:
        sys.stdout.write(page)
        return 0
    if args.check.read_text(encoding="utf-8") != page:
        print(f"{args.check} is stale: run `make config-doc`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
