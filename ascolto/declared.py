"""The one table every setting is declared in (``ascolto.settings_table.Declarations``), and
the addresses the other declarations' defaults refer to (``$ASCOLTO_HOST``, ...). The settings
classes live in ``ascolto.config`` and ``ascolto.secured_settings``; both declare into this
table, so the loader, its errors and docs/configuration.md see every setting.
"""

from __future__ import annotations

from pathlib import Path

from ascolto.settings_table import Declarations

PORT = {"minimum": 1, "maximum": 65535}

DECLARED = Declarations()

# The section of the settings read only by the local stack's scripts (deploy/env.sh,
# deploy/stack.sh); most are declared in ascolto.config, the nudger's port beside its settings.
STACK = "Local stack (deploy/env.sh)"

# Read by the other declarations' defaults and by the stack scripts (deploy/env.sh).
ADDRESSES = "Addresses and paths"
DECLARED.declare(
    "ASCOLTO_HOST", "127.0.0.1", "Host every service binds to and connects to.", ADDRESSES
)
DECLARED.declare("ASCOLTO_KAFKA_PORT", 19092, "Kafka's port.", ADDRESSES, **PORT)
DECLARED.declare("ASCOLTO_ES_PORT", 19200, "Elasticsearch's HTTP port.", ADDRESSES, **PORT)
DECLARED.declare("ASCOLTO_PROMETHEUS_PORT", 19090, "Prometheus's port.", ADDRESSES, **PORT)
DECLARED.declare(
    "ASCOLTO_RUN_DIR",
    Path(".run"),
    "Where the stack and the worker keep their state, logs and downloads (relative to the "
    "working directory).",
    ADDRESSES,
    stack_default="$ASCOLTO_ROOT/.run",
)
