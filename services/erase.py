"""``ascolto erase --customer HANDLE|EMAIL``: a person's data removed on request (GDPR art. 17).

1. The person: the identity typed, normalised as ingest and route do; their directory profile
   (every handle and e-mail, their customer id); the brands they appear under (Elasticsearch,
   unless ``--brand``).
2. An ``Erasure`` record per brand, identity and customer id, into contacts.raw keyed as
   ingest keys that identity's contacts: ordered after every contact of theirs already there.
   The route stage forwards it to the customer's timeline, where the thread stage withdraws
   everything it published (tombstones), drops the timeline and writes an audit event.
3. Once every request is confirmed on the audit topic: what the worker held no state for
   any more (timelines expired long ago) deleted from every index by query; then the
   person's directory entries (tombstones on the compacted customers topic), after the
   worker's step so that routing still worked; then this command's own audit event.

Neither the audit events nor the summary printed carry personal data beyond what the
operator typed. What cannot be deleted in place expires: docs/privacy.md.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, scan
from kafka import KafkaProducer

from ascolto.clients import kafka_options
from ascolto.config import ConfigError, Settings
from ascolto.search import client
from schemas import codec
from schemas.registry import register_once
from services.ingest.publisher import routing_key
from services.observe import end_offsets, read_topic
from streams.customers import email_key, handle_key, identity_keys

HANDLE, EMAIL = "handle:", "email:"
MAX_TERMS = 10_000  # conversations of one person an aggregation brings back at most


def identity_of(typed: str) -> str:
    """The directory key of what the operator typed: an e-mail address or a handle."""
    text = typed.strip()
    if not text.lstrip("@"):
        raise ConfigError("erase: --customer: empty; give a handle (@jane) or an e-mail address")
    return email_key(text) if "@" in text.lstrip("@") else handle_key(text)


@dataclass(frozen=True)
class Person:
    identities: tuple[str, ...]  # directory keys (handle:<h>, email:<e>)
    customer_ids: tuple[str, ...]  # the timelines they may have: the profile's, or fallbacks
    listed: tuple[str, ...]  # the identities the directory holds a profile under

    @property
    def handles(self) -> list[str]:
        return [i.removeprefix(HANDLE) for i in self.identities if i.startswith(HANDLE)]

    @property
    def emails(self) -> list[str]:
        return [i.removeprefix(EMAIL) for i in self.identities if i.startswith(EMAIL)]


def find_person(identity: str, directory: Mapping[str, dict[str, Any] | None]) -> Person:
    """Everyone's directory (identity -> latest profile, None once forgotten) narrowed to this
    person. An unknown customer's id is their identity (streams.customers.resolve): each of
    their identities is a timeline they may have, as is the profile's id."""
    profile = directory.get(identity)
    keys = [identity, *(identity_keys(profile) if profile else [])]
    identities = tuple(dict.fromkeys(keys))
    ids = [profile["customer_id"]] if profile else []
    listed = tuple(i for i in identities if directory.get(i) is not None)
    return Person(identities, tuple(dict.fromkeys([*ids, *identities])), listed)


def _any_term(field: str, values: Iterable[str]) -> list[dict[str, Any]]:
    return [{"term": {field: {"value": v, "case_insensitive": True}}} for v in values]


def person_query(person: Person, brands: Sequence[str] = ()) -> dict[str, Any]:
    """Documents of the contacts or conversations index that are this person's (by customer
    id, handle as written with or without its @, or e-mail), under ``brands`` if given."""
    handles = person.handles
    written = [*handles, *(f"@{h}" for h in handles), *person.emails]
    should = [
        {"terms": {"customer_id": list(person.customer_ids)}},
        *_any_term("customer_handle", written),
        *_any_term("customer_email", person.emails),
    ]
    query: dict[str, Any] = {"bool": {"should": should, "minimum_should_match": 1}}
    if brands:
        query["bool"]["filter"] = [{"bool": {"should": _any_term("brand", brands)}}]
    return query


def erasure_records(
    request_id: str,
    person: Person,
    brands: Sequence[str],
    now_ms: int,
    handles_written: Iterable[str] = (),
) -> list[tuple[bytes, dict[str, Any]]]:
    """(contacts.raw key, Erasure) for each brand, routing key and customer id, numbered. The
    routing keys are those of the person's identities and of the handles their contacts were
    posted with (``handles_written``: an e-mail contact posted over HTTP carries a handle)."""
    written = [i.split(":", 1)[1] for i in person.identities] + list(handles_written)
    out: list[tuple[bytes, dict[str, Any]]] = []
    for brand in brands:
        keys = dict.fromkeys(routing_key({"brand": brand, "customer_handle": w}) for w in written)
        for key in keys:
            for customer_id in person.customer_ids:
                record = {
                    "request_id": request_id,
                    "part": len(out),
                    "brand": brand.casefold(),
                    "customer_id": customer_id,
                    "requested_at": now_ms,
                }
                out.append((key, record))
    return out


class Incomplete(RuntimeError):
    """The erasure could not be finished; ``str(err)`` says what is left, in one line."""


def _status(error: Mapping[str, Mapping[str, Any]]) -> int:
    """The HTTP status of a bulk helper's error item (``{"delete": {"status": ...}}``)."""
    return int(next(iter(error.values())).get("status", 500))


@dataclass
class Outcome:
    request_id: str
    brands: list[str]
    requests: int = 0
    worker: dict[str, int] | None = None  # the worker's counts, summed over its audit events
    documents: dict[str, int] | None = None  # alias -> documents deleted (or matching)
    identities: int = 0

    def audit(self, now_ms: int) -> dict[str, Any]:
        counts = {"requests": self.requests, "identities_forgotten": self.identities}
        counts |= self.worker or {}
        counts |= {f"documents {alias}": n for alias, n in (self.documents or {}).items()}
        return {
            "request_id": self.request_id,
            "actor": "erase",
            "part": None,
            "brands": self.brands,
            "counts": counts,
            "occurred_at": now_ms,
        }


class Erase:
    def __init__(self, settings: Settings, es: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.es = es or client(settings.elastic)

    def directory(self) -> dict[str, dict[str, Any] | None]:
        """The compacted customers topic read to its end: identity -> its latest profile."""
        latest: dict[str, dict[str, Any] | None] = {}
        for key, value in read_topic(self.settings, self.settings.kafka.customers, None, 60):
            if key:
                latest[key.decode()] = value
        return latest

    def found(self, person: Person) -> tuple[list[str], list[str], list[str]]:
        """The brands this person's contacts or conversations are under, the customer ids
        their contacts were resolved to (a profile added after them leaves the fallback id),
        and the handles their contacts were posted with."""
        aggs = {
            "brands": {"terms": {"field": "brand", "size": 1000}},
            "ids": {"terms": {"field": "customer_id", "size": 1000}},
            "handles": {"terms": {"field": "customer_handle", "size": 1000}},
        }
        found = self.es.search(
            index=[self.settings.elastic.contacts, self.settings.elastic.conversations],
            query=person_query(person),
            aggs=aggs,
            size=0,
        )["aggregations"]
        brands = sorted({b["key"].casefold() for b in found["brands"]["buckets"]})
        handles = [b["key"] for b in found["handles"]["buckets"]]
        return brands, [b["key"] for b in found["ids"]["buckets"]], handles

    def delete_documents(self, person: Person, brands: list[str]) -> dict[str, int]:
        """What is left of the person in the indices, deleted (refreshed): SLA events by their
        conversations (they carry no customer), then conversations and contacts. Found and
        deleted in bulk, not with _delete_by_query: Elasticsearch's reindex module, which
        serves it, is not in every distribution (the local stack's has none)."""
        e = self.settings.elastic
        query = person_query(person, brands)
        aggs = {"convs": {"terms": {"field": "conversation_id", "size": MAX_TERMS}}}
        found = self.es.search(index=[e.contacts, e.conversations], query=query, aggs=aggs, size=0)
        conversations = [b["key"] for b in found["aggregations"]["convs"]["buckets"]]
        by_conversation = {"terms": {"conversation_id": conversations}}
        deleted = {}
        for alias, q in (
            (e.sla_events, by_conversation),
            (e.conversations, query),
            (e.contacts, query),
        ):
            hits = scan(self.es, index=alias, query={"query": q}, _source=False)
            actions = [{"_op_type": "delete", "_index": h["_index"], "_id": h["_id"]} for h in hits]
            done, errors = bulk(self.es, actions, refresh=True, raise_on_error=False)
            # a document gone meanwhile (404) is as good as deleted
            failed = [s for s in map(_status, errors) if s != 404]  # type: ignore[arg-type]
            if failed:
                raise Incomplete(
                    f"erase: {len(failed)} documents of {alias} not deleted (status "
                    f"{failed[0]}); running the same command again is harmless"
                )
            deleted[alias] = done
        return deleted

    def count_documents(self, person: Person, brands: list[str]) -> dict[str, int]:
        e = self.settings.elastic
        query = person_query(person, brands)
        return {
            a: int(self.es.count(index=a, query=query)["count"])
            for a in (e.contacts, e.conversations)
        }

    def publish(self, topic: str, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Send and wait for every acknowledgement (acks=all); raise the first failure."""
        producer = KafkaProducer(**kafka_options(self.settings.kafka), acks="all")
        try:
            sent = [producer.send(topic, key=k, value=v) for k, v in records]
            producer.flush()
            for future in sent:
                future.get(timeout=30)
        finally:
            producer.close()

    def confirmed(
        self, request_id: str, parts: int, since: dict[int, int], wait_s: float
    ) -> dict[str, int]:
        """The worker's audit events of every part of the request, their counts summed;
        Incomplete when some did not come within ``wait_s``."""
        seen: dict[int, dict[str, int]] = {}
        deadline = time.monotonic() + wait_s
        while len(seen) < parts:
            for _, event in read_topic(self.settings, self.settings.kafka.audit, since, 5):
                if event and event["request_id"] == request_id and event["actor"] == "worker":
                    seen.setdefault(event["part"], event["counts"])
            if len(seen) >= parts:
                break
            if time.monotonic() > deadline:
                raise Incomplete(
                    f"erase: request {request_id}: the worker confirmed {len(seen)} of {parts} "
                    f"erase records within {wait_s:g} s; is it running? Running the same "
                    "command again is harmless"
                )
            time.sleep(1.0)
        total: dict[str, int] = {}
        for counts in seen.values():
            for name, n in counts.items():
                total[name] = total.get(name, 0) + n
        return total

    def run(self, typed: str, brand: str | None, wait_s: float, dry_run: bool) -> Outcome:
        person = find_person(identity_of(typed), self.directory())
        found_brands, found_ids, handles = self.found(person)
        person = replace(
            person, customer_ids=tuple(dict.fromkeys([*person.customer_ids, *found_ids]))
        )
        brands = [brand.casefold()] if brand else found_brands
        outcome = Outcome(uuid.uuid4().hex, brands)
        now_ms = int(time.time() * 1000)
        records = erasure_records(outcome.request_id, person, brands, now_ms, handles)
        outcome.requests = len(records)
        if dry_run:
            outcome.documents = self.count_documents(person, brands) if brands else {}
            outcome.identities = len(person.listed)
            return outcome
        k, encode = self.settings.kafka, codec().encode
        register_once(k, codec().canonical(["Erasure", "AuditEvent"]), "ascolto-erase")
        since = end_offsets(self.settings, k.audit)
        self.publish(k.raw, ((key, encode("Erasure", r)) for key, r in records))
        outcome.worker = self.confirmed(outcome.request_id, len(records), since, wait_s)
        outcome.documents = self.delete_documents(person, brands) if brands else {}
        self.publish(k.customers, ((i.encode(), None) for i in person.identities))
        outcome.identities = len(person.listed)
        audit = encode("AuditEvent", outcome.audit(int(time.time() * 1000)))
        self.publish(k.audit, [(outcome.request_id.encode(), audit)])
        return outcome


def summary(typed: str, outcome: Outcome, dry_run: bool) -> str:
    """What was erased, for the operator: nothing personal beyond what they typed."""
    verb = "would erase" if dry_run else "erased"
    lines = [
        f"{verb} {typed.strip()} (request {outcome.request_id})",
        f"  brands: {', '.join(outcome.brands) or 'none found'}",
        f"  erase records: {outcome.requests}",
    ]
    if outcome.worker is not None:
        w = outcome.worker
        lines.append(
            f"  worker: {w.get('timelines', 0)} timelines, tombstones for "
            f"{w.get('contacts', 0)} contacts, {w.get('conversations', 0)} conversations, "
            f"{w.get('sla_events', 0)} SLA events"
        )
    label = "documents matching" if dry_run else "documents deleted"
    for alias, n in (outcome.documents or {}).items():
        lines.append(f"  {label} in {alias}: {n}")
    lines.append(
        f"  directory identities {'to forget' if dry_run else 'forgotten'}: {outcome.identities}"
    )
    return "\n".join(lines)
