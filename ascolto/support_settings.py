"""Settings of the SLA clocks and of what Ascolto gives the support team itself (links to
conversations, nudges before a breach): sections of the one declarations table
(``ascolto.declared``), gathered by ``ascolto.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ascolto.declared import DECLARED, PORT, STACK

_env = DECLARED.field


@dataclass(frozen=True)
class SlaSettings:
    """SLA clocks"""

    # Judged by the event-time watermark, which trails the newest event time by this much.
    allowed_lateness_s: int = _env(
        "ASCOLTO_SLA_ALLOWED_LATENESS_S",
        600,
        "Seconds: a contact arriving this much later than it happened is a replay (backlog).",
        minimum=0,
    )
    check_interval_s: float = _env(
        "ASCOLTO_SLA_CHECK_INTERVAL_S",
        1.0,
        "How often the due-clock timer looks for deadlines passed.",
        minimum=0.1,
    )
    policy_reload_s: float = _env(
        "ASCOLTO_SLA_POLICY_RELOAD_S",
        10.0,
        "How often the worker checks the SLA policy file for a change (docs/sla-policies.md): "
        "a changed file applies to clocks started after it; an invalid one is refused.",
        minimum=0.1,
    )


@dataclass(frozen=True)
class NudgeSettings:
    """Nudges before a breach (`ascolto nudger`, docs/nudges.md)"""

    path: Path = _env(
        "ASCOLTO_NUDGES",
        Path("$defaults/nudges.yaml"),
        "Which brand's team hears of its conversations at risk and late: webhooks, quiet "
        "hours, states. The shipped file names no brand: the nudger sends nothing.",
    )
    group: str = _env(
        "ASCOLTO_NUDGER_GROUP", "ascolto-nudger", "The nudger's consumer group on sla.events."
    )
    ledger_topic: str = _env(
        "ASCOLTO_NUDGER_LEDGER_TOPIC",
        "nudges.ledger",
        "The nudger's own compacted topic of what it sent or holds for a digest (prefixed "
        "like every topic).",
    )
    max_age_s: int = _env(
        "ASCOLTO_NUDGER_MAX_AGE_S",
        86400,
        "Seconds: an SLA event that happened longer ago than this is not nudged (a backlog).",
        minimum=1,
    )


# The local stack's nudger serves /metrics here for Prometheus's ascolto-nudger job
# (`ascolto nudger --metrics-port`); elsewhere the flag says where, or nothing is served.
DECLARED.declare(
    "ASCOLTO_NUDGER_METRICS_PORT",
    19407,
    "The local stack's nudger's /metrics port (`ascolto nudger --metrics-port`), scraped by "
    "Prometheus.",
    STACK,
    **PORT,
)


@dataclass(frozen=True)
class SupportSettings:
    """The support team's tools"""

    conversation_url: str = _env(
        "ASCOLTO_CONVERSATION_URL",
        "",
        "Link to one conversation, in reports and nudges: `{conversation_id}` is replaced by "
        "its id (a Kibana or helpdesk URL). Empty: a search of Elasticsearch's contacts alias.",
    )
    nudges: NudgeSettings = field(default_factory=NudgeSettings)

    def conversation_link(self, conversation_id: str, es_url: str, contacts_alias: str) -> str:
        quoted = quote(conversation_id, safe="")
        if self.conversation_url:
            return self.conversation_url.replace("{conversation_id}", quoted)
        query = quote(f'conversation_id:"{conversation_id}"', safe="")
        return f"{es_url.rstrip('/')}/{contacts_alias}/_search?q={query}"
