"""The files Ascolto ships and uses unless told otherwise: the SLA policy, the intent and
priority rules, the e-mail agents and an example customer directory.

They are package data, so an installed package finds them as well as a checkout does; an
operator copies one, edits it and points the setting (``ASCOLTO_SLA_POLICIES``,
``ASCOLTO_INTENTS``) or the command's option at the copy.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Final

# A wheel installs as plain files, so the package's resources are a real directory.
DEFAULTS_DIR: Final = Path(str(files(__name__)))
SLA_POLICIES: Final = DEFAULTS_DIR / "sla-policies.yaml"
INTENTS: Final = DEFAULTS_DIR / "intents.yaml"
EMAIL_AGENTS: Final = DEFAULTS_DIR / "email-agents.yaml"
CUSTOMERS_EXAMPLE: Final = DEFAULTS_DIR / "customers.example.jsonl"
