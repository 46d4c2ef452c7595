"""SLA policy file: loading, validation errors, and which rule wins."""

from __future__ import annotations

import json
import re
from datetime import date
from itertools import product
from pathlib import Path

import pytest

from ascolto.defaults import SLA_POLICIES
from streams.sla.calendar import ALWAYS_OPEN, BusinessHours
from streams.sla.model import CHANNELS, PRIORITIES, OwedTarget
from streams.sla.policy import (
    PolicyError,
    load_policy,
    parse_policy,
    policy_from_data,
)
from streams.sla.syntax import parse_days, parse_duration, parse_hours

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = SLA_POLICIES
H = 3600


def test_channels_are_the_contact_schema_enum():
    schema = json.loads((ROOT / "schemas" / "contact.v1.avsc").read_text())
    channel = next(f for f in schema["fields"] if f["name"] == "channel")
    assert tuple(channel["type"]["symbols"]) == CHANNELS


# ---- the shipped file -------------------------------------------------------------------


def test_shipped_defaults():
    policy = load_policy(SHIPPED)
    assert policy.warning_ratio == 0.75
    assert policy.business_hours == {}
    expected = {
        "social": (1 * H, 1 * H, None, 24 * H),
        "email": (6 * H, 6 * H, 24 * H, 72 * H),
        "chat": (300, 300, None, 1 * H),
        "web_form": (24 * H, 24 * H, None, 72 * H),
        "phone": (1 * H, 4 * H, None, 24 * H),
    }
    for channel, targets in expected.items():
        for kind, seconds in zip(
            ("first_response", "next_response", "hard_limit", "resolution"), targets, strict=True
        ):
            for priority, tier in product((None, *PRIORITIES), (None, "enterprise")):
                rule = policy.match(kind, channel, priority, tier, brand="any-brand")
                assert (rule and rule.targets[kind]) == seconds, (channel, kind, priority, tier)
                assert rule is policy.match(kind, channel, priority, tier, brand=None)
                assert rule is None or rule.warning_ratio == 0.75
    assert policy.calendar_for("any-brand") is ALWAYS_OPEN
    assert policy.response_kinds(True, "email", brand=None) == ("first_response", "hard_limit")
    assert policy.response_kinds(False, "email", brand=None) == ("next_response", "hard_limit")
    assert policy.response_kinds(False, "chat", brand=None) == ("next_response",)


_EXAMPLE_LINE = re.compile(
    r"^(\s*)# ((?:- name:|  match:|  warning_ratio:|  targets:|    [a-z_]+: \S|business_hours:"
    r"|  [a-z-]+:( &\w+)?$|    (time_zone|weekly|holidays):|      [a-z-]+: |\s{15}[\"\d]).*)$"
)


def test_shipped_commented_examples_are_valid():
    """Uncommenting every example in the shipped file gives a valid policy that does what
    the comments say."""
    lines = SHIPPED.read_text().splitlines()
    text = "\n".join(
        m.group(1) + m.group(2) if (m := _EXAMPLE_LINE.match(line)) else line for line in lines
    )
    policy = parse_policy(text, "examples.yaml")
    assert {r.name for r in policy.rules} >= {"p1", "email-p1", "enterprise"}
    assert policy.match("first_response", "chat", "P1", brand=None).name == "p1"
    assert policy.match("first_response", "email", "P1", brand=None).name == "email-p1"
    assert policy.match("next_response", "email", "P1", brand=None).name == "p1"
    assert policy.match("hard_limit", "email", "P1", brand=None).targets["hard_limit"] == 4 * H
    assert (
        policy.match("first_response", "chat", "P1", "enterprise", brand=None).name == "enterprise"
    )
    assert (
        policy.match("first_response", "chat", "P1", "enterprise", brand=None).warning_ratio == 0.5
    )
    assert policy.match("next_response", "chat", None, "enterprise", brand=None).name == "chat"
    assert (
        policy.match("first_response", "chat", "P1", brand="acme-italia").name == "acme-italia-chat"
    )
    assert policy.match("next_response", "chat", "P1", brand="acme-italia").name == "acme-italia"
    assert policy.match("resolution", "chat", "P1", brand="acme-italia").name == "p1"
    assert policy.match("first_response", "chat", "P1", brand="acme-uk").name == "p1"
    rome = policy.calendar_for("acme-italia")
    assert isinstance(rome, BusinessHours) and rome.time_zone == "Europe/Rome"
    assert (12, 25) in rome.yearly and date(2026, 4, 6) in rome.holidays
    assert policy.calendar_for("acme-night-desk").weekly[6] == ((1320, 360),)


# ---- matching order ---------------------------------------------------------------------

SPECIFIC_RULES = """
version: 1
rules:
  - {name: default, targets: {first_response: 1h, next_response: 1h, resolution: 1d}}
  - {name: c, match: {channel: email}, targets: {first_response: 2h, hard_limit: 1d}}
  - {name: p, match: {priority: P1}, targets: {first_response: 3h}}
  - {name: t, match: {tier: gold}, targets: {first_response: 4h}}
  - {name: cp, match: {channel: email, priority: P1}, targets: {first_response: 5h}}
  - {name: ct, match: {channel: email, tier: gold}, targets: {first_response: 6h}}
  - {name: pt, match: {priority: P1, tier: gold}, targets: {first_response: 7h}}
  - {name: cpt, match: {channel: email, priority: P1, tier: gold}, targets: {first_response: 8h}}
"""


@pytest.mark.parametrize(
    ("channel", "priority", "tier", "winner"),
    [
        ("email", "P1", "gold", "cpt"),
        ("chat", "P1", "gold", "pt"),  # two dimensions: tier+priority beats tier+channel
        ("email", "P2", "gold", "ct"),  # tier+channel beats channel alone
        ("email", "P1", None, "cp"),
        ("chat", None, "gold", "t"),  # tier beats nothing else matching
        ("chat", "P1", "silver", "p"),
        ("email", None, None, "c"),
        ("chat", "P3", "silver", "default"),
    ],
)
def test_most_specific_rule_wins(channel, priority, tier, winner):
    policy = parse_policy(SPECIFIC_RULES)
    assert policy.match("first_response", channel, priority, tier, brand=None).name == winner


def test_single_dimension_ties_go_tier_then_priority_then_channel():
    policy = parse_policy(SPECIFIC_RULES.split("  - {name: cp")[0])
    assert policy.match("first_response", "email", "P1", "gold", brand=None).name == "t"
    assert policy.match("first_response", "email", "P1", None, brand=None).name == "p"


def test_more_dimensions_beat_tier():
    text = SPECIFIC_RULES.split("  - {name: c,")[0] + (
        "  - {name: t, match: {tier: gold}, targets: {first_response: 4h}}\n"
        "  - {name: cp, match: {channel: email, priority: P1}, targets: {first_response: 5h}}\n"
    )
    assert (
        parse_policy(text).match("first_response", "email", "P1", "gold", brand=None).name == "cp"
    )


def test_a_kind_falls_through_to_the_most_specific_rule_that_sets_it():
    policy = parse_policy(SPECIFIC_RULES)
    assert policy.match("next_response", "email", "P1", "gold", brand=None).name == "default"
    assert policy.match("hard_limit", "email", "P1", "gold", brand=None).name == "c"
    assert policy.match("hard_limit", "chat", "P1", "gold", brand=None) is None
    target = OwedTarget("hard_limit", "conv", "c1", "b", "email", "P1", "gold", 0)
    assert policy.rule_for(target).name == "c"


# The property test of the order (the winner unique and the most specific, brands included)
# is in test_sla_brand.py.


# ---- validation errors ------------------------------------------------------------------

VALID = {
    "version": 1,
    "rules": [
        {
            "name": "default",
            "targets": {"first_response": "1h", "next_response": "1h", "resolution": "3d"},
        },
        {"name": "chat", "match": {"channel": "chat"}, "targets": {"first_response": "5m"}},
    ],
    "business_hours": {
        "acme": {"time_zone": "Europe/Rome", "weekly": {"mon-fri": "09:00-18:00"}},
    },
}


def _mutated(mutate) -> dict:
    data = json.loads(json.dumps(VALID))
    mutate(data)
    return data


def _problems(mutate) -> list[str]:
    data = _mutated(mutate)
    with pytest.raises(PolicyError) as info:
        policy_from_data(data, "ops/sla.yaml")
    assert str(info.value).startswith("invalid SLA policy ops/sla.yaml")
    assert all(p.startswith("ops/sla.yaml: ") for p in info.value.problems)
    return list(info.value.problems)


def _one_problem(mutate, *fragments: str) -> str:
    problems = _problems(mutate)
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems[0]
    return problems[0]


def test_valid_fixture_loads():
    assert policy_from_data(VALID).calendar_for("acme").time_zone == "Europe/Rome"


@pytest.mark.parametrize("bad", ["6x", "1.5h", "", "h", "-5m", "1h 2x", "fast", "5 min"])
def test_bad_duration(bad):
    def mutate(d):
        d["rules"][1]["targets"]["first_response"] = bad

    _one_problem(mutate, "rule 'chat' (rules[1])", "targets.first_response", "duration", "'5m'")


def test_zero_duration():
    def mutate(d):
        d["rules"][1]["targets"]["first_response"] = "0m"

    _one_problem(mutate, "targets.first_response", "'0m' is zero")


def test_bare_number_duration_asks_for_a_unit():
    def mutate(d):
        d["rules"][0]["targets"]["resolution"] = 3600

    _one_problem(mutate, "rule 'default'", "targets.resolution", "no unit")


def test_unknown_channel_and_priority():
    def mutate(d):
        d["rules"][1]["match"] = {"channel": "fax", "priority": "P9"}

    problems = _problems(mutate)
    assert len(problems) == 2
    assert "rule 'chat' (rules[1]), field 'match.channel': unknown channel 'fax'" in problems[0]
    assert "social, email, web_form, chat, phone" in problems[0]
    assert "field 'match.priority': unknown priority 'P9'" in problems[1]


def test_match_values_are_stripped():
    def mutate(d):
        d["rules"][1]["match"] = {"channel": " chat", "tier": "enterprise "}

    policy = policy_from_data(_mutated(mutate))
    assert policy.match("first_response", "chat", None, "enterprise", brand=None).name == "chat"


@pytest.mark.parametrize(
    ("targets", "fragment"),
    [
        ({"first_response": "5m", "hard_limit": "5m"}, "'5m' must be longer than first_response"),
        (
            {"first_response": "5m", "next_response": "2h", "hard_limit": "1h"},
            "'1h' must be longer than next_response ('2h')",
        ),
    ],
)
def test_hard_limit_must_be_longer_than_the_response_targets_of_its_rule(targets, fragment):
    def mutate(d):
        d["rules"][1]["targets"] = targets

    _one_problem(mutate, "rule 'chat' (rules[1]), field 'targets.hard_limit'", fragment)


def test_a_hard_limit_longer_than_its_rules_response_targets_is_valid():
    def mutate(d):
        d["rules"][1]["targets"] = {"first_response": "5m", "hard_limit": "30m"}

    assert policy_from_data(_mutated(mutate)).match("hard_limit", "chat", brand=None).name == "chat"


def test_missing_default():
    _one_problem(lambda d: d["rules"].pop(0), "missing the catch-all default", "without 'match'")


def test_default_must_set_the_three_kinds():
    def mutate(d):
        del d["rules"][0]["targets"]["resolution"]

    _one_problem(mutate, "rule 'default' (rules[0]), field 'targets'", "must set resolution")


@pytest.mark.parametrize("zone", ["Europe/Roma", "CET+5", "../etc/passwd", 3, None])
def test_bad_time_zone(zone):
    def mutate(d):
        d["business_hours"]["acme"]["time_zone"] = zone

    _one_problem(mutate, "business_hours for brand 'acme', field 'time_zone'", "unknown time zone")


def test_unknown_fields_are_typos():
    def mutate(d):
        d["rules"][1]["target"] = d["rules"][1].pop("targets")
        d["warning_ration"] = 0.5

    problems = _problems(mutate)
    assert any("top level: unknown field 'warning_ration'" in p for p in problems)
    assert any("rule 'chat' (rules[1]): unknown field 'target'" in p for p in problems)
    assert any("rule 'chat' (rules[1]), field 'targets'" in p for p in problems)


def test_unknown_target_kind():
    def mutate(d):
        d["rules"][1]["targets"]["first_reply"] = "5m"

    _one_problem(mutate, "rule 'chat'", "unknown target 'first_reply'", "hard_limit")


def test_duplicate_match_and_name():
    def mutate(d):
        d["rules"].append(
            {"name": "chat", "match": {"channel": "chat"}, "targets": {"resolution": "1h"}}
        )

    problems = _problems(mutate)
    assert any("name 'chat' already used by rule 'chat' (rules[1])" in p for p in problems)
    assert any("matches the same clocks (channel=chat)" in p for p in problems)


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.1, "75%", True])
def test_bad_warning_ratio(ratio):
    def mutate(d):
        d["rules"][1]["warning_ratio"] = ratio

    _one_problem(mutate, "rule 'chat' (rules[1]), field 'warning_ratio'", "between 0 and 1")


def test_version_is_required():
    _one_problem(lambda d: d.pop("version"), "field 'version'", "must be 1")


@pytest.mark.parametrize(
    ("weekly", "fragment"),
    [
        ({"mon-fri": "9-18"}, "weekly.mon-fri[0]': invalid hours range '9-18'"),
        ({"mon-fri": 1080}, "quote it"),
        ({"mon-fri": "24:00-02:00"}, "starts at 24:00"),
        ({"mon-fri": "09:00-09:00"}, "is empty"),
        ({"mon-fri": "09:60-18:00"}, "invalid time 09:60"),
        ({"mon-fri": "09:00-18:00", "fri": "19:00-20:00"}, "fri already has hours"),
        ({"mon-fry": "09:00-18:00"}, "unknown day 'fry'"),
        ({}, "expected a mapping of days"),
    ],
)
def test_bad_weekly_hours(weekly, fragment):
    def mutate(d):
        d["business_hours"]["acme"]["weekly"] = weekly

    _one_problem(mutate, "business_hours for brand 'acme', field 'weekly", fragment)


def test_bad_holiday():
    def mutate(d):
        d["business_hours"]["acme"]["holidays"] = ["2025-12-25", "Christmas"]

    _one_problem(mutate, "field 'holidays[1]'", "expected a holiday, got 'Christmas'")


def test_every_problem_is_reported_at_once():
    def mutate(d):
        d["rules"][0]["targets"]["first_response"] = "soon"
        d["rules"][1]["match"]["channel"] = "pigeon"
        d["business_hours"]["acme"]["time_zone"] = "Mars/Olympus"

    assert len(_problems(mutate)) == 3


def test_yaml_problems_name_the_file(tmp_path):
    path = tmp_path / "sla.yaml"
    path.write_text("version: 1\nrules: [\n")
    with pytest.raises(PolicyError, match=r"(?s)sla\.yaml: not valid YAML.*sla\.yaml\", line 3"):
        load_policy(path)
    path.write_text("version: 1\nversion: 2\nrules: []\n")
    with pytest.raises(PolicyError, match="duplicate or complex key 'version'"):
        load_policy(path)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    path.write_text("- just a list\n")
    with pytest.raises(PolicyError, match="expected a mapping"):
        load_policy(path)


def test_unquoted_yaml_dates_and_anchors_work():
    text = """
version: 1
rules:
  - name: default
    targets: {first_response: 1h, next_response: 1h, resolution: 1d}
business_hours:
  a: &office
    time_zone: Europe/Rome
    weekly: {mon-fri: ["09:00-13:00", "14:00-18:00"]}
    holidays: [2025-12-25, "2025-12-26"]
  b: *office
  c:
    <<: *office
    time_zone: America/New_York
"""
    policy = parse_policy(text)
    assert policy.calendar_for("a") == policy.calendar_for("b")
    assert len(policy.calendar_for("a").holidays) == 2
    assert policy.calendar_for("c").time_zone == "America/New_York"


# ---- syntax -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), (" 2d 1s ", 172801)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "days"),
    [("mon", (0,)), ("mon-fri", (0, 1, 2, 3, 4)), ("sat,sun", (5, 6)), ("fri-mon", (4, 5, 6, 0))],
)
def test_parse_days(text, days):
    assert parse_days(text) == days


def test_parse_hours():
    assert parse_hours("09:00-18:00") == (540, 1080)
    assert parse_hours("22:00-02:00") == (1320, 120)  # crosses midnight
    assert parse_hours("00:00-24:00") == (0, 1440)
