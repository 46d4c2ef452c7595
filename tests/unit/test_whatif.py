"""What-if SLA replay, the pure part (services.whatif_model) and the command's refusals:
the stored contacts re-timed as the live thread stage times them, the window's filters, and
a bad policy or argument stopping everything before Elasticsearch is asked."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ascolto.config import Settings
from services.cli import main
from services.whatif import render_table, run
from services.whatif_chart import chart_problem, draw
from services.whatif_model import History, Timed, Window, compare, retime
from streams.sla.policy import parse_policy
from streams.stages.records import flat_message
from streams.stages.timeline import SlaContext, TimelineState, thread_timeline
from tests.support.timeline_records import PARAMS, RECORDS, T0, record

MIN = 60_000
LATENESS = 600_000
CURRENT = parse_policy(
    """
version: 1
rules:
  - name: default
    targets: {first_response: 1h, next_response: 1h, resolution: 1d}
"""
)
TIGHT = parse_policy(
    """
version: 1
rules:
  - name: default
    targets: {first_response: 20m, next_response: 1h, resolution: 1d}
"""
)


def rows(*records: dict[str, Any], brand: str = "b", customer: str = "handle:c") -> list[dict]:
    """The contact documents the index stage would store for these records."""
    out = []
    for r in records:
        flat = dict(flat_message(r))
        flat.update(brand=brand, customer_id=customer)
        out.append(flat)
    return out


def outcomes(timed: list[Timed]) -> Counter[tuple[str, str]]:
    return Counter((t.kind, t.outcome) for t in timed)


def test_the_stored_history_is_judged_as_the_live_stage_judged_it() -> None:
    # the thread stage's own step over the same records, judged at the watermark the
    # stored contacts give (the latest event time less the allowed lateness)
    watermark = T0 + 300 * MIN - LATENESS
    sla = SlaContext(CURRENT, LATENESS, wall_ms=T0 + 10**9, watermark_ms=watermark)
    _, out = thread_timeline(TimelineState.load(None), RECORDS, PARAMS, 10**12, sla)
    stored: list[dict[str, Any]] = [dict(flat_message(r)) for _, r in out.contacts]
    live = Counter(
        (r["sla"]["target"], r["sla"]["outcome"]) for r in stored if r.get("sla") is not None
    )
    history = History.of(stored, LATENESS)
    assert history.watermark.now() == watermark
    timed = retime(history, CURRENT, PARAMS, wall_ms=T0 + 10**9)
    replayed = Counter((t.kind, t.outcome) for t in timed if t.kind != "resolution")
    assert replayed == live
    # q1 answered after 30 min, q2 after 160 min; q3 (the same conversation: within the
    # thread window) unanswered, its hour not over at the watermark
    assert live == {("first_response", "met"): 1, ("next_response", "breached"): 1,
                    ("next_response", "open"): 1}  # fmt: skip


def test_a_tighter_target_turns_slow_answers_into_breaches() -> None:
    history = History.of(rows(*RECORDS), LATENESS)
    now = T0 + 10**9
    current, tight = retime(history, CURRENT, PARAMS, now), retime(history, TIGHT, PARAMS, now)
    assert outcomes(tight)[("first_response", "breached")] == 1  # q1: 30 min > 20 min
    assert outcomes(current)[("first_response", "met")] == 1
    [row] = [r for r in compare(current, tight) if r["target"] == "first_response"]
    assert row["current"]["target_seconds"] == [3600] and row["proposed"]["target_seconds"] == [
        1200
    ]
    assert row["current"]["met_share"] == 1.0 and row["proposed"]["met_share"] == 0.0
    # the running time to the answer, whichever the target
    assert row["current"]["p50_seconds"] == row["proposed"]["p50_seconds"] == 30 * 60
    assert (row["brand"], row["channel"]) == ("b", "social")


def test_an_unanswered_message_breaches_once_the_watermark_passes_its_deadline() -> None:
    question = record("q", "inbound", T0, None, "where is order 9")
    later = record("z", "inbound", T0 + 50 * MIN, None, "unrelated")  # another customer
    early = History.of([*rows(question), *rows(later, customer="other")], LATENESS)
    # watermark T0 + 40 min: q's 20 min target passed, its 1 h one not yet
    mine = Window(until_ms=T0 + MIN)
    assert outcomes(retime(early, TIGHT, PARAMS, T0 + 10**9, mine))[
        ("first_response", "breached")
    ] == 1  # fmt: skip
    assert outcomes(retime(early, CURRENT, PARAMS, T0 + 10**9, mine))[
        ("first_response", "open")
    ] == 1  # fmt: skip


def test_a_live_timeline_is_judged_by_the_wall_clock() -> None:
    question = record("q", "inbound", T0, None, "where is order 9")
    question["contact"]["received_at"] = T0 + 1000  # it reached us as it happened
    history = History.of(rows(question), LATENESS)
    assert outcomes(retime(history, TIGHT, PARAMS, wall_ms=T0 + 30 * MIN))[
        ("first_response", "breached")
    ] == 1  # fmt: skip
    assert outcomes(retime(history, TIGHT, PARAMS, wall_ms=T0 + 10 * MIN))[
        ("first_response", "open")
    ] == 1  # fmt: skip


def test_since_and_until_select_clocks_by_their_start_over_the_whole_history() -> None:
    history = History.of(rows(*RECORDS), LATENESS)
    now = T0 + 10**9
    # q2 (T0 + 40 min) alone: still a next response, as the earlier q1 makes it
    window = Window(since_ms=T0 + 40 * MIN, until_ms=T0 + 41 * MIN)
    assert outcomes(retime(history, CURRENT, PARAMS, now, window)) == {
        ("next_response", "breached"): 1
    }
    # the resolution clock starts with the conversation's first message, and runs on
    # while q3 (T0 + 300 min) waits, outside the window
    opening = Window(until_ms=T0 + 1)
    assert outcomes(retime(history, CURRENT, PARAMS, now, opening)) == {
        ("first_response", "met"): 1,
        ("resolution", "open"): 1,
    }
    assert retime(history, CURRENT, PARAMS, now, Window(since_ms=T0 + 301 * MIN)) == []


def test_brand_selects_a_brands_timelines_in_any_case() -> None:
    history = History.of(
        [*rows(*RECORDS, brand="Acme"), *rows(*RECORDS, brand="Globex", customer="g")], LATENESS
    )
    now = T0 + 10**9
    brands = {t.brand for t in retime(history, CURRENT, PARAMS, now, Window(brand="acme"))}
    assert brands == {"Acme"}
    assert {t.brand for t in retime(history, CURRENT, PARAMS, now)} == {"Acme", "Globex"}


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="--until must be later than --since"):
        Window(since_ms=T0, until_ms=T0)


def test_a_stored_contact_without_its_timeline_fields_is_named() -> None:
    broken = rows(RECORDS[0])[0]
    del broken["customer_id"]
    with pytest.raises(ValueError, match="lacks customer_id: id-q1"):
        History.of([broken], LATENESS)


def _settings(current: Path) -> Settings:
    """Elasticsearch on a port nobody listens on: a command that asked it would fail."""
    s = Settings()
    return dataclasses.replace(
        s,
        elastic=dataclasses.replace(s.elastic, url="http://127.0.0.1:9"),
        worker=dataclasses.replace(s.worker, sla_policies_path=current),
    )


class Args:
    def __init__(self, policy: Path, **options: Any) -> None:
        self.policy = str(policy)
        self.since = options.get("since")
        self.until = options.get("until")
        self.brand = options.get("brand")
        self.format = options.get("format", "table")
        self.chart = options.get("chart")


@pytest.fixture
def current(tmp_path: Path) -> Path:
    path = tmp_path / "current.yaml"
    path.write_text("version: 1\nrules:\n  - name: default\n    targets: "
                    "{first_response: 1h, next_response: 1h, resolution: 1d}\n")  # fmt: skip
    return path


def test_an_invalid_policy_is_refused_one_line_per_problem_before_anything_runs(
    tmp_path: Path, current: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "new.yaml"
    bad.write_text(
        "version: 1\nrules:\n  - name: social\n    match: {channel: pigeon}\n"
        "    targets: {first_response: soon}\n"
    )
    assert run(_settings(current), Args(bad)) == 2  # type: ignore[arg-type]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 3 and all(line.startswith(f"ascolto: {bad}: ") for line in lines)
    text = "\n".join(lines)
    assert "pigeon" in text and "soon" in text and "catch-all" in text.lower()


def test_a_file_that_is_not_yaml_is_one_line(
    tmp_path: Path, current: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "new.yaml"
    bad.write_text("rules: [unclosed\n")
    assert run(_settings(current), Args(bad)) == 2  # type: ignore[arg-type]
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"ascolto: {bad}: not valid YAML")


def test_bad_arguments_exit_2_before_anything_runs(
    tmp_path: Path, current: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _settings(current)
    backwards = Args(current, since=T0, until=T0 - 1)
    assert run(s, backwards) == 2  # type: ignore[arg-type]
    assert run(s, Args(current, chart=tmp_path / "c.jpg")) == 2  # type: ignore[arg-type]
    assert run(s, Args(current, chart=tmp_path / "no" / "c.png")) == 2  # type: ignore[arg-type]
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "ascolto: --until must be later than --since",
        f"ascolto: --chart writes a PNG: {tmp_path / 'c.jpg'} should end in .png",
        f"ascolto: --chart: no folder {tmp_path / 'no'}",
    ]
    with pytest.raises(SystemExit) as exit_:
        main(["sla", "what-if", "--policy", str(current), "--since", "last tuesday"])
    assert exit_.value.code == 2
    assert (
        "argument --since: not a date (2017-10-01) or an ISO-8601 time: 'last tuesday'"
        in capsys.readouterr().err
    )


def test_the_table_and_the_chart_show_both_policies(tmp_path: Path) -> None:
    history = History.of(rows(*RECORDS), LATENESS)
    now = T0 + 10**9
    table = compare(retime(history, CURRENT, PARAMS, now), retime(history, TIGHT, PARAMS, now))
    text = render_table(table)
    first = next(line for line in text.splitlines() if "first_response" in line)
    now_side, new_side = first.split("|")
    assert "1.0h" in now_side and "20.0m" in new_side and "100.0%" in now_side
    assert "current policy" in text.splitlines()[0] and "proposed" in text.splitlines()[0]
    assert render_table([]).startswith("(no SLA clock")
    png = tmp_path / "what-if.png"
    assert chart_problem(png) is None
    draw(table, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
