"""The SLA gauges: what the pipeline tells Prometheus about waiting customers, and under
which brand label (bounded: streams.metrics.BrandLabels)."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Gauge

from ascolto.config import Settings
from streams.metrics import BrandLabels, WorkerMetrics
from streams.sla.gauges import ConversationGauges
from streams.sla.policy import parse_policy
from streams.stages.timeline import SlaContext, TimelineState, thread_timeline
from tests.support.timeline_records import PARAMS, record

POLICY = parse_policy(
    """
version: 1
rules:
  - name: default
    targets: {first_response: 24h, next_response: 24h, resolution: 72h}
  - name: email
    match: {channel: email}
    targets: {first_response: 1h, next_response: 1h, hard_limit: 2h, resolution: 72h}
business_hours:
  b:
    time_zone: UTC
    weekly: {mon-fri: "09:00-18:00"}
"""
)
FRIDAY_5PM = int(datetime(2026, 11, 27, 17, 0, tzinfo=UTC).timestamp() * 1000)
H = 3_600_000


def past_hard_limit(now: int, received_late_by: int = 0) -> float:
    """The gauge, for one customer email sent on Friday at 17:00 and never answered."""
    email = record("q1", "inbound", FRIDAY_5PM, None, "my invoice is wrong")
    email["contact"]["channel"] = "email"
    email["contact"]["received_at"] = FRIDAY_5PM + received_late_by
    sla = SlaContext(POLICY, lateness_ms=600_000, wall_ms=now, watermark_ms=now)
    state, _ = thread_timeline(TimelineState({}, 0, {}), [email], PARAMS, 30 * 24 * H, sla)
    gauges = ConversationGauges(inactivity_ms=72 * H)
    gauges.update(b"b|c", state, sla)
    metrics = WorkerMetrics.create(CollectorRegistry())
    gauges.export(metrics, now, now)
    return metrics.past_hard_limit.labels("b", "email")._value.get()


def test_counts_a_message_past_its_hard_limit_on_the_sla_clock_not_the_calendar() -> None:
    # Saturday 17:30: 24.5 hours later, but only one business hour (Friday 17-18) has run
    assert past_hard_limit(FRIDAY_5PM + 24 * H + H // 2) == 0
    # Monday 10:30: the second business hour ended at 10:00
    assert past_hard_limit(FRIDAY_5PM + 65 * H + H // 2) == 1


def test_an_imported_archives_old_misses_are_not_counted() -> None:
    assert past_hard_limit(FRIDAY_5PM + 200 * H, received_late_by=150 * H) == 0


def open_conversations(gauges: ConversationGauges, now: int) -> float:
    metrics = WorkerMetrics.create(CollectorRegistry())
    gauges.export(metrics, now, now)
    return metrics.open_conversations.labels("b", "email")._value.get()


def test_a_quiet_answered_conversation_stops_counting_as_open_an_unanswered_one_does_not() -> None:
    question = record("q1", "inbound", FRIDAY_5PM, None, "my invoice is wrong")
    answer = record("a1", "outbound", FRIDAY_5PM + H // 2, "q1", "fixed, sorry")
    for r in (question, answer):
        r["contact"]["channel"] = "email"
    sla = SlaContext(POLICY, lateness_ms=600_000, wall_ms=FRIDAY_5PM + H, watermark_ms=0)
    answered, _ = thread_timeline(
        TimelineState({}, 0, {}), [question, answer], PARAMS, 30 * 24 * H, sla
    )
    waiting, _ = thread_timeline(TimelineState({}, 0, {}), [question], PARAMS, 30 * 24 * H, sla)
    gauges = ConversationGauges(inactivity_ms=72 * H)
    gauges.update(b"answered", answered, sla)
    assert open_conversations(gauges, FRIDAY_5PM + 72 * H) == 1  # quiet for less than 72 h
    assert open_conversations(gauges, FRIDAY_5PM + 73 * H) == 0  # resolved by now
    gauges.update(b"waiting", waiting, sla)
    assert open_conversations(gauges, FRIDAY_5PM + 30 * 24 * H) == 1  # still waiting


def test_brands_past_the_limit_are_summed_as_one_other_brand() -> None:
    sla = SlaContext(POLICY, lateness_ms=600_000, wall_ms=FRIDAY_5PM, watermark_ms=FRIDAY_5PM)
    gauges = ConversationGauges(inactivity_ms=72 * H)
    for i, brand in enumerate(("b", "y", "z")):
        question = record(f"q{i}", "inbound", FRIDAY_5PM - i * H, None, "my invoice is wrong")
        question["contact"].update(channel="email", brand=brand, received_at=FRIDAY_5PM)
        state, _ = thread_timeline(TimelineState({}, 0, {}), [question], PARAMS, 30 * 24 * H, sla)
        gauges.update(brand.encode(), state, sla)
    metrics = WorkerMetrics.create(CollectorRegistry(), brands=BrandLabels(limit=1))
    gauges.export(metrics, FRIDAY_5PM, FRIDAY_5PM)

    def value(gauge: Gauge, brand: str) -> float:
        return gauge.labels(brand, "email")._value.get()

    assert (value(metrics.unanswered, "b"), value(metrics.unanswered, "(other)")) == (1, 2)
    assert value(metrics.oldest_unanswered_seconds, "(other)") == 2 * H / 1000  # the oldest
    brands = {s.labels["brand"] for m in metrics.registry.collect() for s in m.samples
              if m.name == "ascolto_unanswered_contacts"}  # fmt: skip
    assert brands == {"b", "(other)"}


def test_listed_brands_keep_their_names_and_every_other_brand_is_other(caplog) -> None:
    w = Settings.from_env({"ASCOLTO_METRIC_BRANDS": " acme, globex ,"}).worker
    labels = BrandLabels(w.metric_brands, w.metric_brands_max)
    seen = [labels(b) for b in ("globex", "initech", "acme", "umbrella", "initech")]
    assert seen == ["globex", "(other)", "acme", "(other)", "(other)"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "brand 'initech' and those after it count as (other) in the metrics: "
        "not in ASCOLTO_METRIC_BRANDS"
    ]


def test_first_sight_creates_live_series_once_per_label() -> None:
    metrics = WorkerMetrics.create(CollectorRegistry(), brands=BrandLabels(limit=1))
    metrics.first_sight([("b", "email"), ("y", "email"), ("z", "email"), ("b", "email")])
    series = {
        (s.labels["brand"], s.labels["channel"], s.labels["clock"])
        for m in metrics.registry.collect()
        if m.name == "ascolto_sla_events"
        for s in m.samples
    }
    assert series == {("b", "email", "live"), ("(other)", "email", "live")}
    assert (
        metrics.sla_events.labels("breached", "hard_limit", "(other)", "email", "live")._value.get()
        == 0
    )
