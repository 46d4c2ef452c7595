"""ascolto/defaults/intents.yaml validation: a bad edit fails at start-up with a message naming the
file, the entry and the bad value."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.rules.enrich import DEFAULT_CONFIG_PATH, ConfigError, Enricher, load_rules

SHIPPED: dict[str, Any] = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))


def _intent(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in raw["intents"] if e["name"] == name)


def _write(tmp_path: Path, raw: object) -> Path:
    path = tmp_path / "intents.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _error(tmp_path: Path, edit) -> str:
    raw = copy.deepcopy(SHIPPED)
    edit(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_shipped_file_is_valid() -> None:
    rules = load_rules(DEFAULT_CONFIG_PATH)
    assert rules.intents.order[0] == "cancellation"


def test_invalid_regex_names_file_intent_and_pattern(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: _intent(r, "billing").update(patterns=["charg(e"]))
    assert "intents[3] (billing)" in msg
    assert "'charg(e'" in msg
    assert "invalid regular expression" in msg


def test_invalid_regex_in_a_language_group(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: _intent(r, "outage").update(patterns={"it": ["[giù"]}))
    assert "(outage): patterns.it" in msg and "'[giù'" in msg


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [("(?P<x>refund)", "named group"), (r"(a)\1", "back-reference"), ("x*", "matches empty")],
)
def test_patterns_that_would_break_the_matcher(tmp_path: Path, pattern: str, complaint: str):
    msg = _error(tmp_path, lambda r: _intent(r, "billing").update(patterns=[pattern]))
    assert complaint in msg and repr(pattern) in msg


def test_unknown_key_in_an_intent(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: _intent(r, "delivery").update(keywrods=["parcel"]))
    assert "(delivery): unknown key(s) keywrods" in msg
    assert "allowed: description, keywords, name, negated_by, patterns, when_sentiment" in msg


def test_unknown_intent_name(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: r["intents"].append({"name": "refunds", "keywords": ["x"]}))
    assert "name must be one of" in msg and "'refunds'" in msg


def test_other_cannot_have_rules(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: r["intents"].append({"name": "other", "keywords": ["x"]}))
    assert "'other'" in msg


def test_intent_listed_twice(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: r["intents"].append(copy.deepcopy(_intent(r, "praise"))))
    assert "'praise' is listed twice" in msg


def test_bad_keyword(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: _intent(r, "billing").update(keywords=["ref*und"]))
    assert "keyword 'ref*und'" in msg
    msg = _error(tmp_path, lambda r: _intent(r, "billing").update(keywords={"en": "refund"}))
    assert "(billing): keywords.en must be a list" in msg
    msg = _error(tmp_path, lambda r: _intent(r, "billing").update(keywords=["refund", 42]))
    assert "non-empty string, got 42" in msg


def test_bad_when_sentiment(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: _intent(r, "complaint").update(when_sentiment="angry"))
    assert "(complaint): when_sentiment must be one of" in msg


def test_unknown_top_level_key(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: r.update(intent=[]))
    assert "unknown top-level key(s) intent" in msg


def test_wrong_version(tmp_path: Path) -> None:
    assert "version must be 1" in _error(tmp_path, lambda r: r.update(version=2))


def test_priority_table_errors(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: r["priority"]["intent"].pop("outage"))
    assert "priority.intent: missing outage" in msg
    msg = _error(tmp_path, lambda r: r["priority"]["intent"].update(refunds=10))
    assert "priority.intent: unknown key 'refunds'" in msg
    msg = _error(tmp_path, lambda r: r["priority"]["tier"].update(vip="high"))
    assert "priority.tier.vip: points must be a whole number, got 'high'" in msg
    msg = _error(tmp_path, lambda r: r["priority"]["bands"].update(P2=50))
    assert "priority.bands: need P1 > P2 > P3" in msg
    msg = _error(tmp_path, lambda r: r["priority"]["sentiment"].pop("unmeasured"))
    assert "priority.sentiment: missing unmeasured" in msg


def test_asks_customer_errors(tmp_path: Path) -> None:
    msg = _error(tmp_path, lambda r: r["asks_customer"]["requests"].update(patterns=["(?"]))
    assert "asks_customer.requests: patterns: invalid regular expression '(?'" in msg
    msg = _error(tmp_path, lambda r: r["asks_customer"].update(requsts={}))
    assert "asks_customer: unknown key(s) requsts" in msg


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "intents.yaml"
    path.write_text("intents: [\n  - name: billing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"^{path}: not valid YAML"):
        load_rules(path)


def test_enricher_from_file_raises_before_loading_models(tmp_path: Path) -> None:
    path = _write(tmp_path, {"version": 1})
    with pytest.raises(ConfigError, match="intents must be a non-empty list"):
        Enricher.from_file(path)
