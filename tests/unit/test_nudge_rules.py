"""The nudges file, quiet hours and the words of a nudge (services/nudge_rules.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ascolto.config import ConfigError
from ascolto.defaults import DEFAULTS_DIR
from services.nudge_rules import (
    Nudge,
    QuietHours,
    digest,
    duration,
    load_config,
    message,
    parse_config,
)

ROME = ZoneInfo("Europe/Rome")
TOKEN = "T000/B000/s3cret"


def ms(text: str) -> int:
    """An ISO time with its offset, as epoch ms."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def link(conversation_id: str) -> str:
    return f"https://help.example/c/{conversation_id}"


def hook(tmp_path: Path, name: str = "acme.url", text: str = "") -> str:
    (tmp_path / name).write_text(text or f"https://hooks.slack.com/services/{TOKEN}\n")
    return name


def test_a_brand_reads_its_webhook_from_a_file_and_wants_both_states_by_default(
    tmp_path: Path,
) -> None:
    config = parse_config({"brands": {"Acme": {"webhook_url_file": hook(tmp_path)}}}, "f", tmp_path)
    route = config.route("ACME", "warning")
    assert route is not None and route.states == {"warning", "breached"}
    assert route.webhook.reveal() == f"https://hooks.slack.com/services/{TOKEN}"
    assert TOKEN not in repr(route) and route.quiet is None
    assert config.route("Other", "warning") is None
    assert config.summary() == "nudging the teams of 1 brand(s): Acme"


def test_a_brand_may_want_only_breaches(tmp_path: Path) -> None:
    spec = {"webhook_url_file": hook(tmp_path), "states": ["breached"]}
    config = parse_config({"brands": {"Acme": spec}}, "f", tmp_path)
    assert config.route("acme", "warning") is None and config.route("acme", "breached")


def test_the_shipped_file_names_no_brand_and_says_so() -> None:
    config = load_config(DEFAULTS_DIR / "nudges.yaml")
    assert config.routes == {}
    assert config.summary() == "no brand is configured: no nudge will be sent"


def test_every_problem_of_the_file_is_one_line_and_none_shows_a_url(tmp_path: Path) -> None:
    hook(tmp_path, "bad.url", f"hooks.slack.com/{TOKEN} extra")
    data = {
        "brands": {
            "A": {"webhook_url_file": "missing.url"},
            "B": {"webhook_url_file": "bad.url", "colour": "red"},
            "C": {"webhook_url_file": hook(tmp_path), "states": ["late"]},
            "D": {
                "webhook_url_file": hook(tmp_path),
                "quiet_hours": {"time_zone": "Mars/Olympus", "from": "19:00", "to": "08:00"},
            },
            "E": {
                "webhook_url_file": hook(tmp_path),
                "quiet_hours": {"time_zone": "UTC", "from": "25:00", "to": "8"},
            },
            "F": {
                "webhook_url_file": hook(tmp_path),
                "quiet_hours": {"time_zone": "UTC", "from": "08:00", "to": "08:00"},
            },
            "G": "not a mapping",
            "acme": {"webhook_url_file": hook(tmp_path)},
            "ACME": {"webhook_url_file": hook(tmp_path)},
        }
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(data, "nudges.yaml", tmp_path)
    lines = str(raised.value).splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "brands.A.webhook_url_file",
        "brands.B",
        "brands.B.webhook_url_file",
        "brands.C.states",
        "brands.D.quiet_hours.time_zone",
        "brands.E.quiet_hours.from",
        "brands.E.quiet_hours.to",
        "brands.F.quiet_hours",
        "brands.G",
        "brands.ACME",
    ]
    assert all(line.startswith("nudges.yaml: ") for line in lines)
    assert "unknown key colour" in lines[1] and "does not hold one http(s) URL" in lines[2]
    assert "No such file" in lines[0] and "the same brand as acme" in lines[-1]
    assert TOKEN not in str(raised.value) and "slack" not in str(raised.value)


@pytest.mark.parametrize("data", [[], {"brand": {}}, {"brands": ["Acme"]}])
def test_a_file_of_another_shape_is_one_line(data: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^f: (expected a mapping|brands: expected)") as raised:
        parse_config(data, "f", tmp_path)
    assert "\n" not in str(raised.value)


def test_a_missing_or_broken_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^ASCOLTO_NUDGES='.*nope.yaml': cannot read it"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "broken.yaml").write_text("brands: {Acme: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not YAML") as raised:
        load_config(tmp_path / "broken.yaml")
    assert "\n" not in str(raised.value)


def test_quiet_hours_across_midnight(tmp_path: Path) -> None:
    night = _quiet(tmp_path, "19:00", "08:00")
    assert not night.holds(ms("2026-06-10T18:59:59+02:00"))
    assert night.holds(ms("2026-06-10T19:00:00+02:00"))
    assert night.holds(ms("2026-06-11T02:00:00+02:00"))
    assert night.holds(ms("2026-06-11T07:59:59+02:00"))
    assert not night.holds(ms("2026-06-11T08:00:00+02:00"))
    assert not night.holds(ms("2026-06-11T12:00:00+02:00"))


def test_quiet_hours_within_a_day(tmp_path: Path) -> None:
    lunch = _quiet(tmp_path, "12:00:00", "14:00")
    assert [
        lunch.holds(ms(f"2026-06-10T{t}+02:00")) for t in ("11:59", "12:00", "13:59", "14:00")
    ] == [
        False,
        True,
        True,
        False,
    ]


def _quiet(tmp_path: Path, start: str, end: str, zone: ZoneInfo = ROME) -> QuietHours:
    """Quiet hours as the file gives them."""
    spec = {
        "webhook_url_file": hook(tmp_path),
        "quiet_hours": {"time_zone": zone.key, "from": start, "to": end},
    }
    quiet = parse_config({"brands": {"X": spec}}, "f", tmp_path).routes["x"].quiet
    assert quiet is not None
    return quiet


def test_quiet_hours_follow_the_local_clock_across_daylight_saving_changes(
    tmp_path: Path,
) -> None:
    night = _quiet(tmp_path, "19:00", "08:00")
    # 29 March 2026: Rome moves from +01:00 to +02:00 at 02:00; the night is an hour shorter
    assert night.holds(ms("2026-03-28T06:59:59+00:00"))  # 07:59 CET
    assert not night.holds(ms("2026-03-28T07:00:00+00:00"))  # 08:00 CET
    assert night.holds(ms("2026-03-29T05:59:59+00:00"))  # 07:59 CEST
    assert not night.holds(ms("2026-03-29T06:00:00+00:00"))  # 08:00 CEST
    # 25 October 2026: back to +01:00 at 03:00; 19:00 comes an hour later in UTC
    assert not night.holds(ms("2026-10-24T16:59:59+00:00"))  # 18:59 CEST
    assert night.holds(ms("2026-10-24T17:00:00+00:00"))  # 19:00 CEST
    assert not night.holds(ms("2026-10-25T17:59:59+00:00"))  # 18:59 CET
    assert night.holds(ms("2026-10-25T18:00:00+00:00"))  # 19:00 CET
    # a bound the spring change skips: quiet until the clock jumps past it
    early = _quiet(tmp_path, "01:00", "02:30")
    assert early.holds(ms("2026-03-29T00:59:59+00:00"))  # 01:59 CET
    assert not early.holds(ms("2026-03-29T01:00:00+00:00"))  # 03:00 CEST


NUDGE = Nudge(
    clock="c1:first_response",
    state="warning",
    brand="Acme",
    channel="social",
    target="first_response",
    conversation_id="conv-1",
    deadline_ms=ms("2026-06-10T14:05:00+00:00"),
    priority="P2",
)


def test_an_at_risk_nudge_says_what_is_due_when_and_where() -> None:
    now = ms("2026-06-10T14:00:48+00:00")
    assert message(NUDGE, now, ROME, link) == {
        "text": "At risk, Acme: social conversation (P2): first response due in 4m 12s "
        "(deadline 2026-06-10 16:05:00 Europe/Rome). https://help.example/c/conv-1"
    }


def test_a_late_nudge_says_by_how_much() -> None:
    late = Nudge.from_json({**NUDGE.as_json(), "state": "breached", "priority": None})
    now = NUDGE.deadline_ms + 2 * 3600_000 + 5 * 60_000
    text = message(late, now, ZoneInfo("UTC"), link)["text"]
    assert text == (
        "Late, Acme: social conversation: first response late by 2h 5m "
        "(deadline 2026-06-10 14:05:00 UTC). https://help.example/c/conv-1"
    )


def test_durations_keep_two_units() -> None:
    assert [duration(s * 1000) for s in (0, 40, 252, 7500, 97200, 90061)] == [
        "0s", "40s", "4m 12s", "2h 5m", "1d 3h", "1d 1h",
    ]  # fmt: skip
    assert duration(-5000) == "0s" and duration(3600_000) == "1h"


def test_a_digest_lists_late_first_then_at_risk_each_by_deadline() -> None:
    base = NUDGE.as_json()
    nudges = [
        Nudge.from_json({**base, "clock": "c1:first_response"}),
        Nudge.from_json({**base, "clock": "c2:first_response", "state": "breached",
                         "deadline": NUDGE.deadline_ms + 60_000, "conversation_id": "conv-2"}),
        Nudge.from_json({**base, "clock": "c3:resolution", "state": "breached",
                         "target": "resolution", "conversation_id": "conv-3", "priority": None}),
    ]  # fmt: skip
    now = NUDGE.deadline_ms + 3600_000
    text = digest("Acme", nudges, now, ZoneInfo("UTC"), link)["text"]
    assert text.splitlines() == [
        "Acme, while you were away: 2 late, 1 at risk.",
        "- Late: social conversation: resolution late by 1h "
        "(deadline 2026-06-10 14:05:00 UTC). https://help.example/c/conv-3",
        "- Late: social conversation (P2): first response late by 59m "
        "(deadline 2026-06-10 14:06:00 UTC). https://help.example/c/conv-2",
        "- At risk: social conversation (P2): first response due now, 1h ago "
        "(deadline 2026-06-10 14:05:00 UTC). https://help.example/c/conv-1",
    ]
