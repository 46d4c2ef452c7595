"""From a customer's derived conversations to SLA clocks, events and per-contact SLA state.

Pure: the caller passes ``now_ms`` — the wall clock for live conversations, the event-time
watermark for replayed ones (see streams.sla.watermark). Outcomes depend only on the
messages, the policy and the calendar, so both clocks agree once ``now`` has passed every
deadline, whatever the arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.rules.views import ConversationView, Derived
from streams.sla.calendar import Calendar
from streams.sla.clock import assess
from streams.sla.model import PRIORITIES, OwedTarget, Pause, SlaEvent
from streams.sla.policy import Policies, Policy, Rule

Clock = tuple[OwedTarget, Rule, Calendar]


@dataclass
class Judgement:
    events: list[SlaEvent] = field(default_factory=list)
    # contact_id -> the SLA state indexed with the contact (its response clock)
    contact_sla: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_wakeup_ms: int | None = None


def clocks(
    derived: Derived, messages: Mapping[str, Mapping[str, Any]], policies: Policies
) -> list[Clock]:
    """Every clock the customer's conversations run: one or two per owed message
    (first/next response, plus the hard limit where the policy sets one) and one resolution
    clock per conversation. Near-duplicates start none: they are not owed an answer. A
    response clock stops at the answer, or at a close that comes first.

    `policies`: a Policy, or a PolicyBook whose version in force when a clock started
    gives that clock's rule and calendar."""
    by_conversation: dict[str, list[Mapping[str, Any]]] = {}
    for view in derived.contacts.values():
        by_conversation.setdefault(view.conversation_id, []).append(messages[view.contact_id])
    out: list[Clock] = []
    for conv_id, members in by_conversation.items():
        conv = derived.conversations[conv_id]
        members.sort(key=lambda m: (m["occurred_at"], m["contact_id"]))
        owed = [m for m in members if derived.contacts[m["contact_id"]].owed]
        for m, closed_at in zip(members, _closes_after(members), strict=True):
            view = derived.contacts[m["contact_id"]]
            if not view.owed:
                continue
            # closing the conversation fulfils what it still owed, as solving a ticket does
            ends = [t for t in (view.answered_at, closed_at) if t is not None]
            policy = policies.at(m["occurred_at"])
            for kind in policy.response_kinds(
                m is owed[0], m["channel"], m.get("priority"), m.get("tier"), brand=conv.brand
            ):
                target = OwedTarget(
                    kind=kind, conversation_id=conv_id, contact_id=view.contact_id,
                    brand=conv.brand, channel=m["channel"], priority=m.get("priority"),
                    tier=m.get("tier"), started_at_ms=m["occurred_at"],
                    stopped_at_ms=_stop(min(ends, default=None), m["occurred_at"]),
                )  # fmt: skip
                _add(out, target, policy)
        _add(out, _resolution(conv, members, *priority_and_tier(owed)), policies.at(conv.opened_at))
    return out


def priority_and_tier(owed: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """A conversation's priority (the highest of its owed customer messages) and tier (that
    of its first owed message), as the conversation document has them."""
    priority = min((str(m["priority"]) for m in owed if m.get("priority")), key=_rank, default=None)
    return priority, owed[0].get("tier") if owed else None


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


def _closes_after(members: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """For each member, when the conversation was next closed after it (None: not since)."""
    found: list[int | None] = []
    upcoming: int | None = None
    for m in reversed(members):
        found.append(upcoming)
        if m["kind"] == "close":
            upcoming = m["occurred_at"]
    return found[::-1]


def _stop(at: int | None, started: int) -> int | None:
    # an answer stamped before its message (clock skew) stops the clock at once
    return None if at is None else max(at, started)


def _add(out: list[Clock], target: OwedTarget, policy: Policy) -> None:
    rule = policy.rule_for(target)
    if rule is not None:
        out.append((target, rule, policy.calendar_for(target.brand)))


def _resolution(
    conv: ConversationView,
    members: Sequence[Mapping[str, Any]],
    priority: str | None,
    tier: str | None,
) -> OwedTarget:
    """The resolution clock pauses while the conversation waits on the customer: from an
    agent message that asks the customer something, or from a close, until the customer
    writes again (a reopened conversation does not count the time it was closed)."""
    stopped = _resolved_at(conv, members)
    pauses: list[Pause] = []
    waiting_since: int | None = None
    for m in members:
        if m["kind"] == "close" or (m["direction"] == "outbound" and m.get("asks_customer")):
            waiting_since = waiting_since if waiting_since is not None else m["occurred_at"]
        elif m["direction"] == "inbound" and waiting_since is not None:
            pauses.append(Pause(waiting_since, m["occurred_at"]))
            waiting_since = None
    if waiting_since is not None and (stopped is None or stopped > waiting_since):
        pauses.append(Pause(waiting_since, stopped))  # still waiting now, or when it stopped
    return OwedTarget(
        kind="resolution", conversation_id=conv.conversation_id, contact_id=None,
        brand=conv.brand, channel=conv.channel, priority=priority, tier=tier,
        started_at_ms=conv.opened_at,
        stopped_at_ms=None if stopped is None else max(stopped, conv.opened_at),
        pauses=tuple(pauses),
    )  # fmt: skip


def _resolved_at(conv: ConversationView, members: Sequence[Mapping[str, Any]]) -> int | None:
    """When the conversation stopped owing a resolution; None while it still owes one.

    Closed: at the close. Every customer message answered: at the agent's last word, for as
    long as the customer does not write again (then the stop goes and the time between
    counts, unless the agent had asked them something). A customer message left unanswered:
    the clock runs, until the inactivity resolved the conversation."""
    if conv.status == "closed":
        return conv.closed_at
    if not conv.awaiting_answer:
        last_word = max(
            (m["occurred_at"] for m in members if m["direction"] == "outbound"), default=None
        )
        if last_word is not None:
            return int(last_word)
    return conv.resolved_at


def judge(all_clocks: Iterable[Clock], now_ms: int) -> Judgement:
    result = Judgement()
    wakeups: list[int] = []
    for target, rule, calendar in all_clocks:
        assessed = assess(target, rule, calendar, now_ms)
        result.events.extend(assessed.events)
        if assessed.next_change_ms is not None:
            wakeups.append(assessed.next_change_ms)
        if target.contact_id is None:
            continue
        state = result.contact_sla.setdefault(target.contact_id, {})
        plan, verdict = assessed.schedule, assessed.outcome
        if target.kind == "hard_limit":
            state["hard_limit_deadline"] = plan.deadline_ms
            state["hard_limit_outcome"] = verdict
        else:
            state.update(
                target=target.kind,
                policy=rule.name,
                target_seconds=rule.target_s(target.kind),
                deadline=plan.deadline_ms,
                warn_at=plan.warn_at_ms,
                outcome=verdict,
                warned=plan.warn_at_ms is not None
                and plan.warn_at_ms <= now_ms
                and (target.stopped_at_ms is None or target.stopped_at_ms > plan.warn_at_ms),
            )
    result.next_wakeup_ms = min(wakeups, default=None)
    return result


def event_record(event: SlaEvent, judged_at_ms: int, clock: str) -> dict[str, Any]:
    """The SlaEvent Avro record (schemas/sla-event.v1.avsc)."""
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "target": event.kind,
        "conversation_id": event.conversation_id,
        "contact_id": event.contact_id,
        "policy": event.rule,
        "deadline": event.deadline_ms,
        "elapsed_seconds": event.elapsed_s,
        "target_seconds": event.target_s,
        "brand": event.brand,
        "channel": event.channel,
        "priority": event.priority,
        "tier": event.tier,
        "occurred_at": event.occurred_at_ms,
        "judged_at": judged_at_ms,
        "clock": clock,
    }
