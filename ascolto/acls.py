"""Kafka ACLs: each process's principal and what it may do (docs/deploying.md, secured
connections).

``grants(settings)`` is the whole policy, as data, from the topic names (``ASCOLTO_TOPIC_PREFIX``
included) and the worker's app id; ``apply`` makes a broker's ACLs for the named principals
equal to it (``ascolto acls --apply``). The admin user ``ascolto`` is a super user in the
broker's config and has no ACLs: topic creation (``ascolto setup``), ACL changes, erasure and
``ascolto customers load`` are its work. Resource names are LITERAL where the name is ours and
PREFIXED only where a library makes it: faust's internal topics ``<app_id>-...``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import groupby

import kafka.errors as Errors
from kafka import KafkaAdminClient
from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)

from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.topics import topic_specs

ADMIN = "ascolto"
INGEST = "ascolto-ingest"
WORKER = "ascolto-worker"
INDEXER = "ascolto-indexer"
CLI = "ascolto-cli"
NUDGER = "ascolto-nudger"
PRINCIPALS = (INGEST, WORKER, INDEXER, CLI, NUDGER)  # the users with ACLs; ADMIN is a super user
CLI_GROUP_PREFIX = "ascolto-cli-"  # the read-only commands' consumer groups, if they use one

CLUSTER_NAME = "kafka-cluster"  # the one name the cluster resource has
LITERAL, PREFIXED = "LITERAL", "PREFIXED"
# every process checks the topics it uses at start (ascolto.topics.ensure_topics: metadata
# and configs) and the cluster's broker count
CHECK = ("DESCRIBE", "DESCRIBE_CONFIGS")


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW binding, from any host: ``user`` may do ``operation`` on the resource."""

    user: str
    resource: str  # TOPIC, GROUP or CLUSTER
    name: str
    pattern: str  # LITERAL or PREFIXED
    operation: str

    @property
    def principal(self) -> str:
        return f"User:{self.user}"


def _on(
    user: str, resource: str, names: Iterable[str], ops: Iterable[str], pattern: str = LITERAL
) -> list[Grant]:
    ops = tuple(ops)
    return [Grant(user, resource, n, pattern, op) for n in names for op in ops]


def _topics(user: str, names: Iterable[str], *ops: str) -> list[Grant]:
    return _on(user, "TOPIC", names, ops)


def _groups(user: str, names: Iterable[str], *ops: str) -> list[Grant]:
    return _on(user, "GROUP", names, ops)


def _cluster(user: str) -> list[Grant]:
    return _on(user, "CLUSTER", [CLUSTER_NAME], ["DESCRIBE"])


def grants(settings: Settings) -> list[Grant]:
    """Every principal's grants, sorted. kafka-python's idempotent producer (ingest) needs no
    IDEMPOTENT_WRITE on the cluster: since Kafka 2.8 (KIP-679) WRITE on a topic implies it."""
    k, w, n = settings.kafka, settings.worker, settings.support.nudges
    ledger = k.topic(n.ledger_topic)
    derived = [k.enriched, k.conversations, k.sla_events]
    every = list(topic_specs(k))
    index_topics = _topics(INDEXER, derived, "READ") + _groups(INDEXER, [w.index_group], "READ")
    out = [
        *_topics(INGEST, [k.raw], "WRITE", "DESCRIBE"),
        # every writer registers its schemas before it writes; every reader may look one up
        *_topics(INGEST, [k.schemas], "READ", "WRITE", "DESCRIBE"),
        *_topics(WORKER, [k.schemas], "READ", "WRITE"),
        *_topics(INDEXER, [k.schemas], "READ", "WRITE"),
        *_topics(CLI, [k.schemas], "READ"),
        # the worker: reads raw, the directory and its own re-keyed topic, writes the rest
        # (the audit topic: the record of an erasure, services/erase.py)
        *_topics(WORKER, every, *CHECK),
        *_topics(WORKER, [k.raw, k.keyed, k.customers], "READ"),
        *_topics(WORKER, [k.keyed, *derived, k.dlq, k.audit], "WRITE"),
        # its tables' changelogs (made by ensure_topics or faust) and faust's leader topic
        *_on(WORKER, "TOPIC", [f"{w.app_id}-"], ["CREATE", "READ", "WRITE", *CHECK], PREFIXED),
        *_groups(WORKER, [w.app_id], "READ", "DESCRIBE"),
        *_cluster(WORKER),
        # the indexer as its own process: the derived topics in, dead letters out
        *_topics(INDEXER, every, *CHECK),
        *index_topics,
        *_groups(INDEXER, [w.index_group], "DESCRIBE"),
        *_topics(INDEXER, [k.dlq], "WRITE"),
        *_cluster(INDEXER),
        # the CLI reads what the pipeline produced, and the lag of both groups (--wait, demo)
        *_topics(CLI, every, "DESCRIBE"),
        *_topics(CLI, [*derived, k.dlq, k.dlq_replayed], "READ"),  # dlq list/show
        *_groups(CLI, [w.app_id, w.index_group], "DESCRIBE"),
        *_on(CLI, "GROUP", [CLI_GROUP_PREFIX], ["READ", "DESCRIBE"], PREFIXED),
        # the nudger (services/nudges.py): the SLA events in, as its own group; its ledger,
        # which it makes itself when it is missing (CREATE on that one literal name: the
        # topic is optional, so `ascolto setup` does not make it for every install)
        *_topics(NUDGER, [k.sla_events], "READ", *CHECK),
        *_groups(NUDGER, [n.group], "READ", "DESCRIBE"),
        *_topics(NUDGER, [ledger], "CREATE", "READ", "WRITE", *CHECK),
    ]
    if w.index_inline:  # the index stage runs in the worker, as the indexer's group
        out += [Grant(WORKER, g.resource, g.name, g.pattern, g.operation) for g in index_topics]
        out += _groups(WORKER, [w.index_group], "DESCRIBE")
    return sorted(set(out))


def of(users: Collection[str], all_grants: Iterable[Grant]) -> list[Grant]:
    return [g for g in all_grants if g.user in users]


@dataclass(frozen=True)
class Plan:
    add: list[Grant]
    remove: list[Grant]


def plan(wanted: Collection[Grant], present: Collection[Grant]) -> Plan:
    """What to add and remove so that ``present`` (the broker's ACLs of the principals in
    question) equals ``wanted``."""
    return Plan(sorted(set(wanted) - set(present)), sorted(set(present) - set(wanted)))


def table(all_grants: Iterable[Grant]) -> str:
    """The grants, one line per principal and resource, operations joined."""
    rows = [("principal", "resource", "name", "pattern", "operations")]
    key = lambda g: (g.user, g.resource, g.name, g.pattern)  # noqa: E731
    for (user, resource, name, pattern), same in groupby(sorted(all_grants, key=key), key):
        rows.append((user, resource, name, pattern, ", ".join(sorted(g.operation for g in same))))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(n) for c, n in zip(r, widths, strict=False)), r[-1]]) for r in rows
    )


# ---------------------------------------------------------------- on the broker


def _acl(g: Grant) -> ACL:
    pattern = ResourcePattern(ResourceType[g.resource], g.name, ACLResourcePatternType[g.pattern])
    return ACL(g.principal, "*", ACLOperation[g.operation], ACLPermissionType.ALLOW, pattern)


def as_grant(acl: ACL) -> Grant | None:
    """The ACL as a Grant; None for one no Grant can say (a DENY, or for one host)."""
    if acl.permission_type != ACLPermissionType.ALLOW or acl.host != "*":
        return None
    user = acl.principal.removeprefix("User:")
    p = acl.resource_pattern
    return Grant(
        user, p.resource_type.name, p.resource_name, p.pattern_type.name, acl.operation.name
    )


class BrokerAcls:
    """The ACLs of some principals on one cluster, over kafka-python's admin client (the
    broker needs an authorizer: without one it answers SecurityDisabledError)."""

    def __init__(self, admin: KafkaAdminClient) -> None:
        self.admin = admin

    def present(self, user: str) -> list[ACL]:
        everything = ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)
        acls, _ = self.admin.describe_acls(
            ACLFilter(f"User:{user}", None, ACLOperation.ANY, ACLPermissionType.ANY, everything)
        )
        return list(acls)

    def sync(self, wanted: Collection[Grant], users: Collection[str]) -> Plan:
        """Make the users' ACLs equal ``wanted`` (theirs only): add the missing, delete the
        rest, ACLs no Grant can say (DENY, one host) included. Returns what it changed."""
        acls = self._present(users)
        unsayable = [acl for acl in acls if as_grant(acl) is None]
        todo = plan(of(users, wanted), [g for g in map(as_grant, acls) if g is not None])
        if todo.add:
            failed = self.admin.create_acls([_acl(g) for g in todo.add])["failed"]
            if failed:
                raise RuntimeError(f"Kafka refused {len(failed)} ACLs: {failed[0]}")
        stale = [_acl(g) for g in todo.remove] + unsayable
        if stale:
            for _, _, error in self.admin.delete_acls(stale):
                if error is not Errors.NoError:
                    raise RuntimeError(f"Kafka refused to delete ACLs: {error}")
        if todo.add or stale:
            self._until_seen(set(of(users, wanted)), users)
        return todo

    def _present(self, users: Collection[str]) -> list[ACL]:
        return [acl for user in sorted(users) for acl in self.present(user)]

    def _until_seen(
        self, wanted: set[Grant], users: Collection[str], timeout_s: float = 30
    ) -> None:
        """Until the broker answers with the new ACLs: the controller has them when it
        answers, the broker's authorizer a moment later (seen: a describe at once still
        showed the old ones), and a process started meanwhile would be refused."""
        deadline = time.monotonic() + timeout_s
        while set(map(as_grant, self._present(users))) != wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the broker did not show the new ACLs in {timeout_s:.0f}s")
            time.sleep(0.2)


def sync(settings: Settings, wanted: Collection[Grant], users: Collection[str]) -> Plan:
    """BrokerAcls.sync over an admin client of ``settings`` (a super user's)."""
    admin = KafkaAdminClient(**kafka_options(settings.kafka), client_id="ascolto-acls")
    try:
        return BrokerAcls(admin).sync(wanted, users)
    finally:
        admin.close()


def apply(settings: Settings, users: Collection[str] = PRINCIPALS) -> Plan:
    """``ascolto acls --apply``: the broker's ACLs for ``users`` made equal to the grants."""
    return sync(settings, grants(settings), users)
