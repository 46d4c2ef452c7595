"""What an SLA event makes the nudger do (services/nudge_book.py): once per clock and state,
whatever the replays; retracted, answered and superseded nudges not sent; held ones in a
digest once the quiet hours end, and still there after a restart."""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from ascolto.secret import Secret
from services.nudge_book import Entry, NudgeBook, Step
from services.nudge_rules import BrandRoute, NudgeConfig, QuietHours

HOUR = 3600_000
NOON = 1_781_006_400_000  # 2026-06-09T12:00:00Z
NIGHT = NOON + 9 * HOUR  # 21:00 UTC
QUIET = QuietHours(ZoneInfo("UTC"), time(19), time(8))
CONFIG = NudgeConfig(
    {
        "acme": BrandRoute(
            "Acme", Secret("https://hooks/acme"), frozenset({"warning", "breached"})
        ),
        "late": BrandRoute("Late", Secret("https://hooks/late"), frozenset({"breached"})),
        "night": BrandRoute(
            "Night", Secret("https://hooks/night"), frozenset({"warning", "breached"}), QUIET
        ),
    }
)


def event(kind: str, subject: str = "c1", brand: str = "Acme", **changes: Any) -> dict[str, Any]:
    slot = "warning" if kind == "warning" else "outcome"
    return {
        "event_id": f"{subject}:first_response:{slot}", "event_type": kind,
        "target": "first_response", "conversation_id": f"conv-{subject}", "contact_id": subject,
        "policy": "default", "deadline": NOON, "elapsed_seconds": 45.0, "target_seconds": 60,
        "brand": brand, "channel": "chat", "priority": None, "tier": None,
        "occurred_at": NOON - 15_000 if kind == "warning" else NOON, "judged_at": NOON,
        "clock": "live",
    } | changes  # fmt: skip


def key(kind: str, subject: str = "c1") -> str:
    return f"{subject}:first_response:{'warning' if kind == 'warning' else 'outcome'}"


class Nudger:
    """The service's part, without Kafka or HTTP: each step done at once, into the book and a
    ledger list (what would be written to the topic)."""

    def __init__(self, book: NudgeBook | None = None) -> None:
        self.book = book or NudgeBook(CONFIG, max_age_ms=24 * HOUR)
        self.sent: list[str] = []
        self.ledger: list[tuple[str, Entry]] = []

    def feed(
        self, kind: str | None, now: int = NOON, subject: str = "c1", **changes: Any
    ) -> list[Step]:
        event_id = key(kind or changes.pop("slot", "warning"), subject)
        record = None if kind is None else event(kind, subject, **changes)
        steps = self.book.decide(event_id, record, now)
        for step in steps:
            if step.action == "send":
                self.sent.append(step.key)
                self._settle(step.key, Entry("sent", now))
            elif step.action == "hold":
                self._settle(step.key, Entry("held", now, step.nudge))
            else:
                self._settle(step.key, Entry("dropped", now))
        return steps

    def _settle(self, k: str, entry: Entry) -> None:
        self.book.settle(k, entry)
        self.ledger.append((k, Entry.decode(entry.encode())))  # what the topic holds


def actions(steps: list[Step]) -> list[tuple[str, str]]:
    return [(s.action, s.key) for s in steps]


def test_a_warning_and_a_breach_are_each_sent_once_whatever_the_repeats() -> None:
    n = Nudger()
    for _ in range(3):
        n.feed("warning", NOON - 10_000)
        n.feed("breached", NOON + 1000)
    assert n.sent == ["c1:first_response:warning", "c1:first_response:breached"]


def test_the_ledger_read_back_stops_a_repeat_after_a_restart() -> None:
    first = Nudger()
    first.feed("warning", NOON - 10_000)
    restarted = NudgeBook(CONFIG, 24 * HOUR)
    for k, entry in first.ledger:
        restarted.restore(k, entry)
    assert restarted.decide(key("warning"), event("warning"), NOON - 5000) == []
    steps = restarted.decide(key("breached"), event("breached"), NOON + 1000)
    assert actions(steps) == [("send", "c1:first_response:breached")]


def test_a_breach_seen_first_supersedes_its_warning() -> None:
    n = Nudger()
    steps = n.feed("breached", NOON + 1000)
    assert actions(steps) == [
        ("drop", "c1:first_response:warning"),
        ("send", "c1:first_response:breached"),
    ]
    assert n.feed("warning", NOON + 2000) == []
    assert n.sent == ["c1:first_response:breached"]


def test_an_answer_in_time_stops_a_warning_not_yet_seen_and_a_replayed_one() -> None:
    n = Nudger()
    assert actions(n.feed("met", NOON - 5000)) == [("drop", "c1:first_response:warning")]
    assert n.feed("warning", NOON - 4000) == []
    assert n.sent == []


def test_a_retraction_drops_a_held_warning_but_cannot_unsend_one() -> None:
    n = Nudger()
    assert actions(n.feed("warning", NIGHT, brand="Night")) == [
        ("hold", "c1:first_response:warning")
    ]
    assert actions(n.feed(None, NIGHT, slot="warning")) == [("drop", "c1:first_response:warning")]
    assert n.book.digests(NOON + 24 * HOUR) == {}
    day = Nudger()
    day.feed("warning", NOON - 10_000)
    assert day.feed(None, NOON - 5000, slot="warning") == []  # sent: nothing to retract
    assert day.sent == ["c1:first_response:warning"]


def test_quiet_hours_hold_until_they_end_then_one_digest_without_the_answered() -> None:
    n = Nudger()
    n.feed("warning", NIGHT, "c1", brand="Night")
    n.feed("warning", NIGHT, "c2", brand="Night")
    n.feed("breached", NIGHT + HOUR, "c2", brand="Night")  # supersedes c2's held warning
    n.feed("warning", NIGHT, "c3", brand="Night")
    n.feed("met", NIGHT + HOUR, "c3", brand="Night")  # answered meanwhile: drops out
    n.feed("warning", NIGHT, "c4", brand="Acme")  # Acme has no quiet hours
    assert n.sent == ["c4:first_response:warning"]
    assert n.book.digests(NIGHT + 2 * HOUR) == {}  # 23:00: still quiet
    morning = NOON + 20 * HOUR  # 08:00 the next day
    held = n.book.digests(morning)
    assert list(held) == ["night"]
    assert sorted(x.key for x in held["night"]) == [
        "c1:first_response:warning",
        "c2:first_response:breached",
    ]
    # the digest survives a restart: the held nudges are in the ledger with their content
    restarted = NudgeBook(CONFIG, 24 * HOUR)
    for k, entry in n.ledger:
        restarted.restore(k, entry)
    assert restarted.digests(morning) == held
    restarted.settle("c1:first_response:warning", Entry("sent", morning))
    restarted.settle("c2:first_response:breached", Entry("sent", morning))
    assert restarted.digests(morning) == {}


def test_only_what_the_brand_asked_for_live_and_recent_is_nudged() -> None:
    n = Nudger()
    assert n.feed("warning", brand="Late") == []  # Late wants breaches only
    assert actions(n.feed("breached", NOON + 1000, brand="Late")) == [
        ("drop", "c1:first_response:warning"),
        ("send", "c1:first_response:breached"),
    ]
    assert n.feed("breached", NOON, "c2", brand="Nobody") == []  # no team: not even a ledger entry
    assert n.feed("met", NOON, "c2", brand="Nobody") == []
    replayed = n.feed("breached", NOON, "c3", clock="replay")  # an import's history
    assert actions(replayed) == [("drop", "c3:first_response:warning")]
    stale = n.feed("breached", NOON + 25 * HOUR, "c4")
    assert actions(stale) == [("drop", "c4:first_response:warning")]
    assert n.sent == ["c1:first_response:breached"]


def test_a_brand_is_matched_as_the_topics_fold_it() -> None:
    n = Nudger()
    n.feed("warning", NOON - 10_000, brand="ACME")
    assert n.sent == ["c1:first_response:warning"]


def test_settled_entries_past_the_age_limit_leave_memory_and_their_repeats_stay_unsent() -> None:
    n = Nudger()
    n.feed("warning", NOON - 10_000)  # sent
    n.feed("breached", NIGHT, subject="c2", brand="Night", occurred_at=NIGHT)  # held
    held = "c2:first_response:breached"
    later = NIGHT + 36 * HOUR  # 09:00 two days on: past the age limit, quiet hours over
    n.book.prune(later)
    assert set(n.book.entries) == {held}  # the held nudge waits for its digest
    assert n.book.decide(key("warning"), event("warning"), later) == []  # too old to nudge
    assert [x.key for x in n.book.digests(later)["night"]] == [held]
