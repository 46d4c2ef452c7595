"""Runs one Faust worker process: ``ascolto worker``."""

from __future__ import annotations

import faust

from ascolto.config import Settings
from ascolto.event_loop import use_event_loop
from ascolto.search import setup_indices
from ascolto.topics import ensure_topics, policy_history_topic
from schemas.registry import use_registry
from streams.app import create_app
from streams.gc_pauses import tune as tune_gc
from streams.policy_reload import PolicyHistory, PolicyReload

# What the worker writes (the erasures it forwards too), registered before it writes.
WRITES = ("EnrichedContact", "Conversation", "SlaEvent", "AuditEvent", "DeadLetter", "Erasure")


def run(settings: Settings, loglevel: str = "info") -> None:
    use_event_loop(settings.event_loop)
    ensure_topics(settings.kafka, settings.worker.app_id)
    use_registry(settings.kafka, WRITES, "ascolto-worker")
    setup_indices(settings.elastic)
    history = PolicyHistory(settings.kafka, policy_history_topic(settings.worker.app_id))
    app = create_app(settings, PolicyReload.start(settings.worker.sla_policies_path, history))
    tune_gc(settings.worker.gc_young_threshold)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, override_logging=True)
    worker.execute_from_commandline()
