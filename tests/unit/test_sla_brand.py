"""Targets per brand: `match: {brand: ...}` and its place in the precedence rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sla.model import OwedTarget
from streams.sla.policy import Match, PolicyError, parse_policy, policy_from_data

H = 3600

BRAND_RULES = """
version: 1
rules:
  - {name: default, targets: {first_response: 1h, next_response: 1h, resolution: 1d}}
  - {name: cpt, match: {channel: email, priority: P1, tier: gold}, targets: {first_response: 2h}}
  - {name: c, match: {channel: email}, targets: {hard_limit: 1d}}
  - {name: acme, match: {brand: acme-italia}, targets: {first_response: 3h}}
  - {name: acme-email, match: {brand: acme-italia, channel: email}, targets: {first_response: 4h}}
  - {name: acme-p1, match: {brand: acme-italia, priority: P1}, targets: {first_response: 5h}}
"""


@pytest.mark.parametrize(
    ("brand", "channel", "priority", "tier", "winner"),
    [
        # a brand's own rule beats the most specific generic rule
        ("acme-italia", "chat", None, None, "acme"),
        ("acme-italia", "email", "P1", "gold", "acme-p1"),  # then: priority beats channel
        ("acme-italia", "email", "P2", "gold", "acme-email"),
        # other brands, and no brand, see the generic rules exactly
        ("acme-uk", "email", "P1", "gold", "cpt"),
        (None, "email", "P1", "gold", "cpt"),
        ("acme-uk", "chat", None, None, "default"),
    ],
)
def test_a_brands_own_rule_wins(brand, channel, priority, tier, winner):
    policy = parse_policy(BRAND_RULES)
    assert policy.match("first_response", channel, priority, tier, brand=brand).name == winner


def test_a_kind_the_brand_does_not_set_falls_through_to_the_generic_rules():
    policy = parse_policy(BRAND_RULES)
    assert policy.match("next_response", "email", "P1", "gold", brand="acme-italia").name == (
        "default"
    )
    assert policy.response_kinds(True, "email", brand="acme-italia") == (
        "first_response",
        "hard_limit",
    )
    target = OwedTarget("first_response", "cv", "c1", "acme-italia", "email", None, None, 0)
    assert policy.rule_for(target).name == "acme-email"


def test_an_unnamed_brand_matches_as_if_brands_did_not_exist():
    with_brands = parse_policy(BRAND_RULES)
    without = parse_policy("\n".join(ln for ln in BRAND_RULES.splitlines() if "brand" not in ln))
    for channel in ("email", "chat"):
        for priority in (None, "P1"):
            for kind in ("first_response", "next_response", "hard_limit", "resolution"):
                a = with_brands.match(kind, channel, priority, "gold", brand="never-named")
                b = without.match(kind, channel, priority, "gold", brand="never-named")
                assert (a and a.name) == (b and b.name)


@pytest.mark.parametrize("value", ["", "  ", 3, None, ["acme"]])
def test_an_empty_or_ill_typed_brand_is_one_clear_line(value):
    data = {
        "version": 1,
        "rules": [
            {"name": "default", "targets": {"first_response": "1h", "next_response": "1h",
                                            "resolution": "1d"}},
            {"name": "b", "match": {"brand": value}, "targets": {"first_response": "5m"}},
        ],
    }  # fmt: skip
    with pytest.raises(PolicyError) as caught:
        policy_from_data(data, "sla.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0] == (
        f"sla.yaml: rule 'b' (rules[1]), field 'match.brand': expected a name (got {value!r})"
    )


def test_two_rules_for_the_same_brand_and_dimensions_are_refused():
    text = (
        BRAND_RULES + "  - {name: again, match: {brand: acme-italia}, targets: {resolution: 1h}}\n"
    )
    with pytest.raises(PolicyError, match="matches the same clocks"):
        parse_policy(text)


_MATCHES = st.fixed_dictionaries(
    {},
    optional={
        "brand": st.sampled_from(["acme", "beta"]),
        "channel": st.sampled_from(["email", "chat"]),
        "priority": st.sampled_from(["P1", "P2"]),
        "tier": st.sampled_from(["gold", "silver"]),
    },
).filter(bool)


def _documented_order(m: Match) -> tuple[bool, int, bool, bool, bool]:
    """docs/sla-policies.md: brand, then more dimensions, then tier > priority > channel."""
    named = (m.tier is not None, m.priority is not None, m.channel is not None)
    return (m.brand is not None, sum(named), *named)


@settings(max_examples=200, deadline=None)
@given(
    matches=st.lists(_MATCHES, max_size=14, unique_by=lambda m: tuple(sorted(m.items()))),
    brand=st.sampled_from([None, "acme", "beta", "gamma"]),
    channel=st.sampled_from(["email", "chat"]),
    priority=st.sampled_from([None, "P1", "P2"]),
    tier=st.sampled_from([None, "gold", "silver"]),
    rng=st.randoms(use_true_random=False),
)
def test_the_winner_is_unique_and_the_most_specific(matches, brand, channel, priority, tier, rng):
    default = {"first_response": "1h", "next_response": "1h", "resolution": "1d"}
    rules = [{"name": "default", "targets": default}]
    rules += [
        {"name": f"r{i}", "match": m, "targets": {"first_response": "5m"}}
        for i, m in enumerate(matches)
    ]
    rng.shuffle(rules)
    policy = policy_from_data({"version": 1, "rules": rules})
    clock = {"brand": brand, "channel": channel, "priority": priority, "tier": tier}
    fitting = [Match(**m) for m in [{}, *matches] if all(clock[k] == v for k, v in m.items())]
    winner = policy.match("first_response", channel, priority, tier, brand=brand).match
    assert winner in fitting
    others = [m for m in fitting if m != winner]
    # strictly more specific than every other fitting rule: no tie, whatever the file order
    assert all(_documented_order(winner) > _documented_order(m) for m in others)
    if brand not in {m.get("brand") for m in matches}:
        assert winner.brand is None
