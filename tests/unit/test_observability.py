"""Dashboards and alerts are code: checked like code, without any server.

- promtool: the rule files load, every rule unit test passes, every panel query parses;
- every alert is tested both firing and quiet, and carries severity, summary, description
  and a runbook_url whose section exists in docs/runbook.md;
- (Alertmanager's generated configuration: tests/unit/test_alertmanager_config.py);
- the committed rule files and grafana/dashboards/*.json are what observability/ generates
  (from the settings: runbook base URL, SLA policy), and the dashboards follow the house rules
  (stable uids, $__rate_interval, units, datasource variable, SLA colours from the policy);
- every metric a query, rule or selector names exists in streams/metrics.py,
  streams/policy_reload.py, services/ingest/metrics.py, services/nudges.py or the recording
  rules; every job is one Prometheus scrapes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from ascolto.config import Settings
from observability import DASHBOARDS_DIR, generate, infra_selectors, selectors
from observability.dashboards import render
from observability.dashboards.sla_targets import channel_targets, duration, targets_text
from observability.queries import all_queries
from services.ingest.metrics import IngestMetrics
from services.nudges import NudgerMetrics
from streams.metrics import WorkerMetrics, export_lag
from streams.policy_reload import PolicyReload
from streams.sla.policy import load_policy, parse_policy
from tests.support.tools import tool

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM / "tests").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
DASHBOARD_FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
DEFAULTS = Settings.from_env({})


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)


def rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def dashboard_json() -> Iterator[dict[str, Any]]:
    for path in DASHBOARD_FILES:
        yield json.loads(path.read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


# ------------------------------------------------------------------ Prometheus rules


def test_rule_files_load() -> None:
    result = run(tool("promtool"), "check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_loads_with_the_rules(tmp_path: Path) -> None:
    """deploy/prometheus/prometheus.yml rendered as deploy/stack.sh does, rules included."""
    (tmp_path / "rules").mkdir()
    for path in RULE_FILES:
        shutil.copy(path, tmp_path / "rules" / path.name)
    rendered = (PROM / "prometheus.yml").read_text()
    for placeholder, value in {
        "@INGEST@": "127.0.0.1:18080",
        "@WORKERS@": "'127.0.0.1:16066'",
        "@KAFKA_JMX@": "'127.0.0.1:19404'",
        "@ES_EXPORTER@": "127.0.0.1:19405",
        "@LAG_EXPORTER@": "127.0.0.1:19406",
        "@NUDGER@": "127.0.0.1:19407",
        "@ALERTMANAGER@": "127.0.0.1:19094",
        "@RULES@": str(tmp_path / "rules"),
        "@SCRAPE_INTERVAL@": "5s",
    }.items():
        rendered = rendered.replace(placeholder, value)
    (tmp_path / "prometheus.yml").write_text(rendered)
    result = run(tool("promtool"), "check", "config", tmp_path / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout, result.stdout


@pytest.fixture(scope="module")
def rule_tests() -> dict[str, subprocess.CompletedProcess[str]]:
    """All promtool test files at once, in parallel (the slowest takes a few seconds)."""
    promtool = tool("promtool")
    procs = {
        path.name: subprocess.Popen(
            [promtool, "test", "rules", path.name],
            cwd=path.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for path in TEST_FILES
    }
    out = {}
    for name, proc in procs.items():
        stdout, _ = proc.communicate(timeout=120)
        out[name] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, "")
    return out


@pytest.mark.parametrize("test_file", [p.name for p in TEST_FILES])
def test_promtool_rule_tests_pass(
    test_file: str, rule_tests: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = rule_tests[test_file]
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test") or []:
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - quiet == set(), "alerts never tested quiet"
    assert (firing | quiet) - names == set(), "tests of alerts that do not exist"


def runbook_anchors() -> set[str]:
    """GitHub's anchors for the runbook's headings: lower case, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
def test_alert_is_labelled_and_documented(alert: dict[str, Any]) -> None:
    assert alert["labels"]["severity"] in {"page", "ticket"}
    assert alert["labels"]["team"] in {"platform", "support"}
    assert alert.get("for"), "every alert needs a `for`"
    annotations = alert["annotations"]
    assert annotations["summary"] and annotations["description"]
    base, _, anchor = annotations["runbook_url"].partition("#")
    assert base == DEFAULTS.observability.runbook_base_url
    assert base.endswith("/docs/runbook.md")
    assert anchor == alert["alert"].lower()
    assert anchor in runbook_anchors(), f"docs/runbook.md has no section {alert['alert']}"


def test_every_alert_has_a_runbook_section_and_every_section_an_alert() -> None:
    sections = re.findall(r"^## (\w+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    names = [a["alert"] for a in alerts()]
    assert sorted(sections) == sorted(names)


def test_runbook_urls_come_from_the_base_url_setting(tmp_path: Path) -> None:
    settings = Settings.from_env({"ASCOLTO_RUNBOOK_BASE_URL": "https://wiki.example/runbook"})
    (rules, _) = generate.outputs(settings, tmp_path / "rules", tmp_path / "dashboards")
    files = ("ascolto-alerts.yml", "ascolto-infrastructure.yml")
    urls = {
        r["alert"]: r["annotations"]["runbook_url"]
        for name in files
        for g in yaml.safe_load(rules.files[name])["groups"]
        for r in g["rules"]
    }
    assert urls["WorkerDown"] == "https://wiki.example/runbook#workerdown"
    assert urls == {name: f"https://wiki.example/runbook#{name.lower()}" for name in urls}
    assert len(urls) == len(alerts())


# ------------------------------------------------------------------ Grafana dashboards


def test_generated_files_are_up_to_date() -> None:
    problems = [p for output in generate.outputs(DEFAULTS) for p in output.stale()]
    assert problems == [], "run `make grafana` and commit the result"


def test_the_check_finds_stale_missing_and_left_over_files(tmp_path: Path) -> None:
    outputs = generate.outputs(DEFAULTS, tmp_path / "rules", tmp_path / "dashboards")
    assert [p for o in outputs for p in o.stale()] == [
        f"{tmp_path}/rules/ascolto-recording.yml: missing, expected by the generator",
        f"{tmp_path}/rules/ascolto-alerts.yml: missing, expected by the generator",
        f"{tmp_path}/rules/ascolto-infrastructure.yml: missing, expected by the generator",
        f"{tmp_path}/dashboards/ascolto-sla-overview.json: missing, expected by the generator",
        f"{tmp_path}/dashboards/ascolto-pipeline-health.json: missing, expected by the generator",
    ]
    written = [name for o in outputs for name in o.write()]
    assert len(written) == 5 and [p for o in outputs for p in o.stale()] == []
    assert [name for o in outputs for name in o.write()] == []  # nothing changed
    alerts_file = tmp_path / "rules" / "ascolto-alerts.yml"
    alerts_file.write_text(alerts_file.read_text().replace("for: 15m", "for: 20m"))
    (tmp_path / "rules" / "hand-written.yml").write_text("groups: []\n")
    assert [p for o in outputs for p in o.stale()] == [
        f"{alerts_file}: differs from the generator",
        f"{tmp_path}/rules/hand-written.yml: not produced by the generator "
        "(delete it, or generate it)",
    ]


def test_generated_files_are_deterministic() -> None:
    first = [dict(o.files) for o in generate.outputs(DEFAULTS)]
    again = [dict(o.files) for o in generate.outputs(Settings.from_env({}))]
    assert first == again
    assert render(load_policy(DEFAULTS.worker.sla_policies_path)) == first[1]


def test_rule_files_keep_every_rule_name() -> None:
    assert [r["record"] for r in rules() if "record" in r] == [
        "brand:ascolto_inbound_contacts:rate10m",
        "brand:ascolto_inbound_contacts:rate10m_baseline",
        "brand:ascolto_inbound_contacts:negative_ratio_rate30m",
        "topic:ascolto_consumer_lag_messages:sum",
        "ascolto:event_time_lag_seconds",
    ]
    assert {a["alert"] for a in alerts()} == {
        "WorkerDown", "IngestDown", "PipelineStalled", "ConsumerLagGrowing", "DeadLetterSpike",
        "ElasticsearchIndexingFailing", "UnansweredPastHardLimit", "SlaBreachRateHigh",
        "MentionSpike", "NegativeSentimentSurge",
        "KafkaBrokerDown", "KafkaUnderReplicatedPartitions", "KafkaOfflinePartitions",
        "KafkaConsumerGroupLag", "KafkaJvmHeapHigh", "ElasticsearchDown",
        "ElasticsearchClusterRed", "ElasticsearchClusterYellow", "ElasticsearchDiskWatermark",
        "ElasticsearchWriteRejections", "ElasticsearchJvmHeapHigh",
        "SlaPolicyRefused", "NudgesRefused", "NudgeWebhookFailing",
    }  # fmt: skip
    assert {p.name for p in RULE_FILES} == {f.name for f in generate.RULE_FILES}


def test_every_panel_query_parses(tmp_path: Path) -> None:
    queries = all_queries()
    assert queries, "no panel queries found"
    group = {
        "name": "panel-queries",
        "rules": [{"record": f"panel_query_{i}", "expr": q[2]} for i, q in enumerate(queries)],
    }
    rule_file = tmp_path / "panel-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False))
    result = run(tool("promtool"), "check", "rules", rule_file)
    bad = [
        f"{queries[int(i)][0]} / {queries[int(i)][1]}: {queries[int(i)][2]}"
        for i in re.findall(r'"panel_query_(\d+)"', result.stdout + result.stderr)
    ]
    assert result.returncode == 0, "\n".join(bad) or result.stdout + result.stderr


def test_dashboards_follow_the_house_rules() -> None:
    uids = set()
    for dashboard in dashboard_json():
        uids.add(dashboard["uid"])
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        assert "datasource" in variables and "channel" in variables
        for panel in panels(dashboard):
            where = f"{dashboard['uid']} / {panel['title']}"
            assert panel["datasource"]["uid"] == "${datasource}", where
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
            assert panel.get("description"), f"{where}: no description"
            assert panel["targets"], f"{where}: no query"
            for target in panel["targets"]:
                for window in re.findall(r"\[([^\]]+)\]", target["expr"]):
                    assert window in {"$__rate_interval", "$__range"}, f"{where}: [{window}]"
    assert uids == {"ascolto-sla-overview", "ascolto-pipeline-health"}


def test_sla_overview_filters_on_brand_and_channel() -> None:
    (sla,) = [d for d in dashboard_json() if d["uid"] == "ascolto-sla-overview"]
    variables = {v["name"]: v for v in sla["templating"]["list"]}
    for name in ("brand", "channel"):
        assert "ascolto_inbound_contacts_total" in variables[name]["query"]
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"


def test_panels_do_not_overlap() -> None:
    for dashboard in dashboard_json():
        cells: dict[tuple[int, int], str] = {}
        for panel in dashboard["panels"]:
            g = panel["gridPos"]
            assert g["x"] + g["w"] <= 24, panel["title"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = panel["title"]


def test_waiting_ages_are_coloured_against_each_channels_sla() -> None:
    (sla,) = [d for d in dashboard_json() if d["uid"] == "ascolto-sla-overview"]
    (oldest,) = [p for p in sla["panels"] if p["title"].startswith("Oldest message waiting")]
    steps = {
        o["matcher"]["options"]: [s["value"] for s in o["properties"][0]["value"]["steps"]]
        for o in oldest["fieldConfig"]["overrides"]
    }
    targets = {
        c.channel: c for c in channel_targets(load_policy(DEFAULTS.worker.sla_policies_path))
    }
    assert steps["email"] == [None, 16200, 21600, 86400]  # warning, 6h target, 24h hard limit
    assert steps["chat"] == [None, 225, 300]
    for channel, values in steps.items():
        assert values[2] == targets[channel].first_response_s


# ------------------------------------------------------------------ metric names


def known_metrics() -> set[str]:
    """Series names the services export, from their metric definitions."""
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    names = set()
    policies = PolicyReload.start(DEFAULTS.worker.sla_policies_path, None)
    for create in (WorkerMetrics.create, IngestMetrics.create, policies.register, NudgerMetrics):
        registry = CollectorRegistry()
        create(registry)
        for family in registry.collect():
            names |= {family.name + s for s in suffixes[family.type]}
    return names


def named_metrics(expr: str) -> set[str]:
    """ascolto_* series and recording-rule names (with a colon) an expression reads."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    without_strings = re.sub(r"\[[^\]]*\]", "", without_strings)  # ranges: [6h:1m]
    tokens = re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", without_strings)
    return {t for t in tokens if t.startswith("ascolto_") or ":" in t}


def test_queries_and_rules_read_metrics_that_exist() -> None:
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    known = known_metrics() | recorded
    exprs = [(f"{uid} / {title}", expr) for uid, title, expr in all_queries()]
    exprs += [(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules()]
    unknown = {f"{where}: {name}" for where, expr in exprs for name in named_metrics(expr)}
    unknown = {u for u in unknown if u.rsplit(": ", 1)[1] not in known}
    assert unknown == set()


def test_queries_have_every_variable_filled_in() -> None:
    for uid, title, expr in all_queries():
        assert "$" not in expr, f"{uid} / {title}: {expr}"


def test_lag_of_a_partition_moved_away_is_no_longer_exported() -> None:
    metrics = WorkerMetrics.create(CollectorRegistry())

    def exported() -> dict[tuple[str, str], float]:
        samples = metrics.consumer_lag.collect()[0].samples
        return {(s.labels["topic"], s.labels["partition"]): s.value for s in samples}

    before = export_lag(metrics.consumer_lag, {("raw", "0"): 5000, ("raw", "1"): 3}, set())
    assert exported() == {("raw", "0"): 5000, ("raw", "1"): 3}
    export_lag(metrics.consumer_lag, {("raw", "1"): 7}, before)  # a rebalance took 0 away
    assert exported() == {("raw", "1"): 7}


def test_selectors_name_metrics_that_exist_and_jobs_prometheus_scrapes() -> None:
    values = [v for k, v in vars(selectors).items() if k.isupper()]
    names = {v.name for v in values if isinstance(v, selectors.Histogram)}
    names |= {v for v in values if isinstance(v, str) and re.fullmatch(r"[a-z_:]+", v)}
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    histograms = {n.removesuffix("_bucket") for n in known_metrics() if n.endswith("_bucket")}
    assert names - known_metrics() - recorded - histograms == {"up"}  # Prometheus's own
    assert len(names) > 30
    config = yaml.safe_load(
        re.sub(r"@\w+@", "x", (PROM / "prometheus.yml").read_text()).replace("[x]", "[]")
    )
    scraped = {job["job_name"] for job in config["scrape_configs"]}
    jobs = (*selectors.JOBS, *selectors.TOOL_JOBS, *infra_selectors.JOBS)
    assert scraped == {job.name for job in jobs}


CHAT_POLICY = """
version: 1
warning_ratio: 0.5
rules:
  - name: default
    targets: {first_response: 2h, next_response: 3h, resolution: 72h}
  - name: chat
    match: {channel: chat}
    warning_ratio: 0.8
    targets: {first_response: 10m, hard_limit: 30m}
  - name: p1
    match: {priority: P1}
    targets: {first_response: 1m}
"""


def test_sla_colours_are_read_through_the_worker_policy() -> None:
    slas = {c.channel: c for c in channel_targets(parse_policy(CHAT_POLICY))}
    chat, email = slas["chat"], slas["email"]
    assert (chat.first_response_s, chat.next_response_s, chat.hard_limit_s) == (600, 10800, 1800)
    assert (chat.warning_ratio, chat.warning_s) == (0.8, 480)
    # no channel rule: the catch-all's targets and the file's ratio; a priority rule is not drawn
    assert (email.first_response_s, email.hard_limit_s, email.warning_s) == (7200, None, 3600)
    assert targets_text(list(slas.values())) == (
        "social 2h, email 2h, web form 2h, chat 10m (30m hard), phone 2h"
    )


def test_sla_overview_follows_the_policy_it_is_given() -> None:
    sla = json.loads(render(parse_policy(CHAT_POLICY))["ascolto-sla-overview.json"])
    (oldest,) = [p for p in sla["panels"] if p["title"].startswith("Oldest message waiting")]
    steps = {
        o["matcher"]["options"]: [s["value"] for s in o["properties"][0]["value"]["steps"]]
        for o in oldest["fieldConfig"]["overrides"]
    }
    assert steps["chat"] == [None, 480, 600, 1800] and steps["email"] == [None, 3600, 7200]
    descriptions = {p["title"]: p.get("description", "") for p in sla["panels"]}
    assert "(50% of the target)" in descriptions["SLA warnings per hour"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(3600, "1h"), (86400, "24h"), (300, "5m"), (5400, "90m"), (45, "45s")]
)
def test_durations_are_written_as_the_policy_writes_them(seconds: int, text: str) -> None:
    assert duration(seconds) == text
