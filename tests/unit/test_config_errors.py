"""Settings and input files the user must fix: one clear line, naming what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascolto.config import ConfigError, Settings
from services.cli import main
from services.directory import read_profiles


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ASCOLTO_BATCH_SIZE": "2k"}, "ASCOLTO_BATCH_SIZE='2k': expected a whole number"),
        ({"ASCOLTO_INGEST_PORT": ""}, "ASCOLTO_INGEST_PORT='': expected a whole number"),
        (
            {"ASCOLTO_ES_BULK_MAX_ACTIONS": "0"},
            "ASCOLTO_ES_BULK_MAX_ACTIONS='0': must be at least 1",
        ),
        ({"ASCOLTO_RETENTION_S": "-1"}, "ASCOLTO_RETENTION_S='-1': must be at least 1"),
        ({"ASCOLTO_SLA_CHECK_INTERVAL_S": "0"}, "must be at least 0.1"),
        ({"ASCOLTO_BATCH_WITHIN_S": "soon"}, "expected a number of seconds"),
        ({"ASCOLTO_INDEX_INLINE": "nope"}, "ASCOLTO_INDEX_INLINE: not a yes/no value"),
        ({"ASCOLTO_PARSED_CACHE_MESSAGES": "-1"}, "must be at least 0"),
        ({"ASCOLTO_FETCH_MAX_WAIT_S": "0"}, "ASCOLTO_FETCH_MAX_WAIT_S='0': must be at least 0.001"),
        ({"ASCOLTO_PRODUCER_LINGER_S": "-1"}, "ASCOLTO_PRODUCER_LINGER_S='-1': must be at least 0"),
        ({"ASCOLTO_METRIC_BRANDS_MAX": "0"}, "ASCOLTO_METRIC_BRANDS_MAX='0': must be at least 1"),
        # 0 would switch the collector's young generation off (streams.gc_pauses.tune)
        ({"ASCOLTO_GC_YOUNG_THRESHOLD": "0"}, "ASCOLTO_GC_YOUNG_THRESHOLD='0': must be at least 1"),
        ({"ASCOLTO_WORKER_WEB_PORT": "99999"}, "ASCOLTO_WORKER_WEB_PORT='99999': must be at most"),
        ({"ASCOLTO_EVENT_LOOP": "trio"}, "ASCOLTO_EVENT_LOOP='trio': expected one of uvloop"),
        ({"ASCOLTO_ES_PORT": "es"}, "ASCOLTO_ES_PORT='es': expected a whole number"),
    ],
)
def test_a_bad_setting_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_env(env)


def test_the_defaults_and_odd_but_valid_values_load() -> None:
    settings = Settings.from_env(
        {
            "ASCOLTO_INDEX_INLINE": "False",
            "ASCOLTO_BATCH_WITHIN_S": "0",
            "ASCOLTO_PARSED_CACHE_MESSAGES": "0",  # no cache: every step parses
        }
    )
    assert settings.worker.index_inline is False and settings.worker.batch_within_s == 0
    assert settings.worker.parsed_cache_messages == 0
    assert Settings.from_env({}).worker.parsed_cache_messages == 50_000
    assert Settings.from_env({}).worker.fetch_max_wait_s == 0.05
    assert Settings.from_env({}).worker.producer_linger_s == 0.05
    assert Settings.from_env({}).worker.batch_within_s == 0.05


def test_the_cli_prints_one_line_and_exits_2(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ASCOLTO_BATCH_SIZE", "2k")
    assert main(["report"]) == 2
    assert capsys.readouterr().err == "ascolto: ASCOLTO_BATCH_SIZE='2k': expected a whole number\n"


def test_a_directory_file_is_checked_whole_with_its_line_numbers(tmp_path: Path) -> None:
    good = '{"customer_id": "c-1", "handles": ["@jane"], "tier": "vip"}'
    path = tmp_path / "customers.jsonl"
    path.write_text(f"{good}\n\n{{oops\n")
    with pytest.raises(ConfigError, match=r"customers.jsonl:3: not JSON"):
        read_profiles(path)
    path.write_text(f'{good}\n{{"name": "no id"}}\n')
    with pytest.raises(ConfigError, match=r"customers.jsonl:2: customer_id: required"):
        read_profiles(path)
    path.write_text(f'{good}\n{{"customer_id": "c-2", "emails": "a@b"}}\n')
    with pytest.raises(ConfigError, match=r":2: emails: expected a list of strings"):
        read_profiles(path)
    path.write_text(f"{good}\n")
    assert read_profiles(path) == [{"customer_id": "c-1", "handles": ["@jane"], "tier": "vip"}]


def test_a_wait_that_runs_out_is_one_line_not_a_traceback(monkeypatch, capsys) -> None:
    def late(*_: object) -> int:
        raise TimeoutError("timed out after 120s waiting for the pipeline to settle")

    monkeypatch.setattr("services.cli._demo", late)
    assert main(["demo"]) == 1
    assert capsys.readouterr().err == (
        "ascolto: timed out after 120s waiting for the pipeline to settle\n"
    )
