"""``ascolto demo``: replay the demo set through the running stack and say what happened."""

from __future__ import annotations

import time
from collections import Counter

from kafka import KafkaProducer

from ascolto.clients import kafka_options
from ascolto.config import Settings
from ascolto.search import client
from schemas import codec
from services import demo
from services.client import IngestCredential, post_contacts
from services.observe import end_offsets, read_topic, wait_searchable, wait_settled, wait_until
from services.report import customer_messages, render_table, summarise


def broken_producer_messages() -> list[bytes]:
    """What a misbehaving producer might write straight to contacts.raw."""
    good = codec().encode(
        "Contact",
        {
            "contact_id": "c", "source": "s", "source_id": "1", "channel": "chat",
            "direction": "inbound", "kind": "message", "brand": "acme", "customer_handle": "x",
            "customer_email": None, "conversation_ref": None, "in_reply_to": None,
            "references": [], "occurred_at": 1, "received_at": 1, "subject": None,
            "body": "hello", "language": None, "attributes": {},
        },
    )  # fmt: skip
    return [
        b'{"body": "JSON is not what this topic speaks"}',
        good[:2] + b"\x00" * 8 + good[10:],  # an unknown schema fingerprint
        good[:-4],  # truncated Avro body
        good,  # decodes, but fails validation (occurred_at in 1970)
    ]


def run_demo(settings: Settings, n_threads: int = 120, timeout_s: float = 120) -> int:
    started = time.monotonic()
    # The demo's day ends now, so its SLA clocks have something to say (the shape is fixed).
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    contacts = demo.generate(n_threads, start_ms=now_ms - n_threads * demo.SPACING_MS - 3_600_000)
    credential = IngestCredential.from_settings(settings.ingest)
    dlq_before = end_offsets(settings, settings.kafka.dlq)

    result = post_contacts(settings.ingest.url, contacts, batch_size=100, credential=credential)
    broken = broken_producer_messages()
    producer = KafkaProducer(**kafka_options(settings.kafka), acks="all")
    for payload in broken:
        producer.send(settings.kafka.raw, key=b"demo-broken", value=payload)
    producer.flush()
    producer.close()

    unique_ids = set(result.accepted_ids)
    es = client(settings.elastic)
    wait_searchable(settings, es, unique_ids, timeout_s)

    def dead_letters() -> list:
        return read_topic(settings, settings.kafka.dlq, since=dlq_before, timeout_s=5)

    wait_until(lambda: len(dead_letters()) >= len(broken), timeout_s, "dead letters")
    letters = [value for _, value in dead_letters() if value]

    # every update settled (an answer reaches its message's document after the message)
    wait_settled(settings, timeout_s=timeout_s)
    channels = Counter(c["channel"] for c in contacts if c.get("channel") in demo.CHANNELS)
    es.indices.refresh(index=settings.elastic.conversations)
    conversations = es.count(index=settings.elastic.conversations)["count"]
    answered = es.count(
        index=settings.elastic.contacts,
        query={
            "bool": {
                "filter": [{"term": {"owed_answer": True}}, {"exists": {"field": "answered_by"}}]
            }
        },
    )["count"]
    owed = es.count(index=settings.elastic.contacts, query={"term": {"owed_answer": True}})["count"]
    report = summarise(customer_messages(es, settings.elastic.contacts), "channel")
    w = settings.worker
    print()
    print("Ascolto demo")
    print(f"  posted            {len(contacts)} contacts over HTTP ({dict(channels)})")
    print(f"  accepted          {len(result.accepted_ids)} ({len(unique_ids)} unique: "
          f"{len(result.accepted_ids) - len(unique_ids)} exact redelivery)")  # fmt: skip
    print(f"  refused at door   {len(result.refused)}")
    for refusal in result.refused:
        print(f"    - {refusal['contact'].get('source_id')}: {'; '.join(refusal['errors'])}")
    print(
        f"  indexed           {len(unique_ids)} contacts searchable in {settings.elastic.contacts}"
    )
    print(f"  conversations     {conversations} in {settings.elastic.conversations}")
    print(f"  answered          {answered} of {owed} customer messages owed an answer")
    print(
        f"  dead-lettered     {len(letters)} on {settings.kafka.dlq} (a broken producer's writes)"
    )
    for letter in letters:
        print(f"    - [{letter['stage']}/{letter['reason_code']}] {letter['reason'][:100]}")
    print(f"  took              {time.monotonic() - started:.1f}s")
    print()
    print("Who was answered, and how fast (ascolto report --by channel)")
    print("  " + render_table(report, "channel").replace("\n", "\n  "))
    print()
    print("Where to look")
    print(f"  Elasticsearch     {settings.elastic.url}/{settings.elastic.contacts}/_search")
    print(f"                    {settings.elastic.url}/{settings.elastic.conversations}/_search")
    print(f"  Prometheus        {settings.prometheus_url}")
    print(f"  ingest metrics    {settings.ingest.url}/metrics")
    print(f"  worker metrics    http://{w.web_host}:{w.web_port}/metrics")
    print("  report            .venv/bin/ascolto report --by brand")
    print("  nearest deadlines .venv/bin/ascolto sla at-risk")
    print("  stop everything   make down")
    return 0
