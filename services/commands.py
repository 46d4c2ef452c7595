"""Sub-commands beyond running the services: importers, report, SLA views."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the importer and report sub-commands (filled in by their own modules)."""
