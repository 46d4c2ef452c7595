"""Alertmanager's configuration is generated from the alert routing file, checked like code:

- the shipped deploy/prometheus/alertmanager.yml is what the defaults generate, and loads;
- a routing file with every kind of receiver, teams and brands generates a configuration
  amtool accepts, and `amtool config routes test` sends each kind of alert where
  docs/alerting.md says (page, ticket, each brand's team, an unknown brand, no severity);
- secrets stay in their files: the configuration names the files, never their contents, and
  a secret written as a value is refused with one line that does not repeat it;
- the inhibitions silence only what follows from their cause, never a page by a ticket nor a
  customer's alert, and docs/alerting.md's table is theirs;
- the runbook links lead to the runbook on the repository's forge.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ascolto.config import ROOT, ConfigError, Settings
from observability import alertmanager, alerts, generate, infra_alerts
from observability.inhibitions import INHIBITIONS
from observability.receivers import RUNBOOK_LINK
from observability.rules import Alert
from tests.support.tools import tool

SHIPPED = ROOT / "deploy" / "prometheus" / "alertmanager.yml"
DOC = ROOT / "docs" / "alerting.md"
DEFAULTS = Settings.from_env({})
SECRETS = {
    "slack-retail.url": "https://hooks.slack.example/services/T0/B0/retail-SECRET-1",
    "pagerduty-platform.key": "pd-routing-SECRET-2",
    "smtp.password": "smtp-SECRET-3",
    "hooks.token": "bearer-SECRET-4",
}
ROUTING: dict[str, Any] = {
    "oncall": [{"pagerduty": {"routing_key_file": "pagerduty-platform.key"}}],
    "teams": {
        "platform": {
            "page": [
                {"webhook": {"url": "https://hooks.example/p", "bearer_token_file": "hooks.token"}}
            ],
            "ticket": [{"webhook": {"url": "https://hooks.example/t"}}],
        },
        "support": {
            "page": [{"slack": {"api_url_file": "slack-retail.url", "channel": "#support"}}],
            "ticket": [
                {
                    "email": {
                        "to": "support@example.com",
                        "from": "alerts@example.com",
                        "smarthost": "smtp.example.com:587",
                        "auth_username": "alerts",
                        "auth_password_file": "smtp.password",
                    }
                }
            ],
        },
        "retail": {
            "page": [{"slack": {"api_url_file": "slack-retail.url", "channel": "#retail-oncall"}}],
            "ticket": [{"slack": {"api_url_file": "slack-retail.url"}}],
        },
        "travel": {
            "page": [{"webhook": {"url": "https://hooks.example/travel"}}],
            "ticket": [
                {"email": {"to": "t@example.com", "from": "a@example.com", "smarthost": "smtp:25"}}
            ],
        },
    },
    "default_team": "platform",
    "brands": {"acme": "retail", "acme-uk.shop": "retail", "globex": "travel"},
}
# labels of an alert -> the receivers it reaches (docs/alerting.md, "Routing")
ROUTES = {
    "page, no brand: on-call and its team": (
        ["alertname=WorkerDown", "severity=page", "team=platform"],
        "oncall,platform-page",
    ),
    "ticket, no brand: its team": (
        ["alertname=ConsumerLagGrowing", "severity=ticket", "team=platform"],
        "platform-ticket",
    ),
    "page of a brand: on-call and the brand's team": (
        ["alertname=MentionSpike", "severity=page", "team=support", "brand=acme"],
        "oncall,retail-page",
    ),
    "ticket of a brand: the brand's team": (
        ["alertname=SlaBreachRateHigh", "severity=ticket", "team=support", "brand=globex"],
        "travel-ticket",
    ),
    "another brand of the same team": (
        ["alertname=SlaBreachRateHigh", "severity=ticket", "team=support", "brand=acme-uk.shop"],
        "retail-ticket",
    ),
    "a brand that only looks like one: the team its rule names": (
        ["alertname=SlaBreachRateHigh", "severity=ticket", "team=support", "brand=acme-ukXshop"],
        "support-ticket",
    ),
    "unknown brand: the team its rule names": (
        ["alertname=MentionSpike", "severity=page", "team=support", "brand=initech"],
        "oncall,support-page",
    ),
    "unknown brand, no team: the default team": (
        ["alertname=Custom", "severity=ticket", "brand=initech"],
        "platform-ticket",
    ),
    "page of no brand nor team: on-call and the default team": (
        ["alertname=Custom", "severity=page"],
        "oncall,platform-page",
    ),
    "no severity: a ticket of the default team": (["alertname=Unlabelled"], "platform-ticket"),
    "no severity, a brand: a ticket of the brand's team": (
        ["alertname=Unlabelled", "brand=acme"],
        "retail-ticket",
    ),
}


def amtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [tool("amtool"), *(str(a) for a in args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def settings_for(tmp_path: Path, routing: object) -> Settings:
    (tmp_path / "routing.yaml").write_text(yaml.safe_dump(routing, sort_keys=False))
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    for name, value in SECRETS.items():
        (secrets / name).write_text(value + "\n")
    return Settings.from_env(
        {
            "ASCOLTO_ALERT_ROUTING": str(tmp_path / "routing.yaml"),
            "ASCOLTO_ALERT_SECRETS_DIR": str(secrets),
        }
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("alertmanager")
    path = tmp_path / "alertmanager.yml"
    path.write_text(alertmanager.generate(settings_for(tmp_path, ROUTING)))
    return path


# ------------------------------------------------------------------ the shipped file


def test_the_shipped_configuration_is_what_the_defaults_generate() -> None:
    output = generate.alertmanager_output(DEFAULTS, SHIPPED.parent)
    assert output.stale() == [], "run `make grafana` and commit the result"
    assert SHIPPED.read_text() == alertmanager.generate(DEFAULTS)


def test_the_shipped_configuration_loads() -> None:
    check = amtool("check-config", SHIPPED)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f" - {len(INHIBITIONS)} inhibit rules" in check.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=page", "team=platform"], "oncall,platform-page"),
        (["severity=ticket", "team=support", "brand=acme"], "support-ticket"),
        (["alertname=Unlabelled"], "platform-ticket"),
    ],
)
def test_the_shipped_configuration_routes_the_local_stacks_alerts(
    labels: list[str], receivers: str
) -> None:
    routed = amtool("config", "routes", "test", f"--config.file={SHIPPED}", *labels)
    assert routed.stdout.strip() == receivers, routed.stdout + routed.stderr


# ------------------------------------------------------------------ routing


def test_every_kind_of_receiver_generates_a_configuration_amtool_accepts(generated: Path) -> None:
    check = amtool("check-config", generated)
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load(generated.read_text())
    kinds = {key for r in config["receivers"] for key in r if key.endswith("_configs")}
    assert kinds == {"slack_configs", "pagerduty_configs", "email_configs", "webhook_configs"}
    names = [r["name"] for r in config["receivers"]]
    assert names == ["oncall"] + [
        f"{team}-{severity}"
        for team in ("platform", "support", "retail", "travel")
        for severity in ("page", "ticket")
    ]


@pytest.mark.parametrize("case", ROUTES)
def test_each_alert_reaches_its_receivers(generated: Path, case: str) -> None:
    labels, receivers = ROUTES[case]
    routed = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={generated}",
        f"--verify.receivers={receivers}",
        *labels,
    )
    assert routed.returncode == 0, routed.stdout + routed.stderr
    assert routed.stdout.strip() == receivers


def test_pages_are_sent_and_repeated_sooner(generated: Path) -> None:
    route = yaml.safe_load(generated.read_text())["route"]
    pages = [r for r in route["routes"] if r["matchers"] == ['severity="page"']]
    pages += [sub for r in route["routes"] for sub in r.get("routes", [])]
    assert len(pages) == 2 + 4 + 3  # on-call, the default team's, and each team route's
    assert {(r["group_wait"], r["repeat_interval"]) for r in pages} == {("10s", "1h")}
    assert (route["group_wait"], route["repeat_interval"]) == ("30s", "12h")


def test_the_timing_comes_from_the_routing_file(tmp_path: Path) -> None:
    routing = {**ROUTING, "timing": {"group_wait": "1s", "page_group_wait": "0s"}}
    route = yaml.safe_load(alertmanager.generate(settings_for(tmp_path, routing)))["route"]
    assert route["group_wait"] == "1s"
    assert route["routes"][0]["group_wait"] == "0s"
    assert route["group_interval"] == "5m"


# ------------------------------------------------------------------ secrets


def test_secrets_are_named_by_their_files_never_written(generated: Path) -> None:
    text = generated.read_text()
    for value in SECRETS.values():
        assert value not in text
    secrets = generated.parent / "secrets"
    config = yaml.safe_load(text)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["oncall"]["pagerduty_configs"][0]["routing_key_file"] == str(
        secrets / "pagerduty-platform.key"
    )
    slack = receivers["retail-page"]["slack_configs"][0]
    assert slack["api_url_file"] == str(secrets / "slack-retail.url")
    assert slack["channel"] == "#retail-oncall"
    email = receivers["support-ticket"]["email_configs"][0]
    assert email["auth_password_file"] == str(secrets / "smtp.password")
    assert (email["to"], email["smarthost"]) == ("support@example.com", "smtp.example.com:587")
    webhook = receivers["platform-page"]["webhook_configs"][0]
    assert webhook["http_config"]["authorization"]["credentials_file"] == str(
        secrets / "hooks.token"
    )


def test_an_absolute_secret_file_is_kept(tmp_path: Path) -> None:
    routing = {**ROUTING, "oncall": [{"pagerduty": {"routing_key_file": "/run/secrets/pd"}}]}
    config = yaml.safe_load(alertmanager.generate(settings_for(tmp_path, routing)))
    assert config["receivers"][0]["pagerduty_configs"][0]["routing_key_file"] == "/run/secrets/pd"


def test_the_runbook_link_is_in_each_chat_and_pager_message(generated: Path) -> None:
    receivers = {r["name"]: r for r in yaml.safe_load(generated.read_text())["receivers"]}
    slack = receivers["retail-page"]["slack_configs"][0]
    assert "{{ .Annotations.runbook_url }}" in slack["text"]
    links = receivers["oncall"]["pagerduty_configs"][0]["links"]
    assert links == [{"href": RUNBOOK_LINK, "text": "Runbook"}]


def with_oncall(receiver: dict[str, Any]) -> dict[str, Any]:
    return {**ROUTING, "oncall": [receiver]}


@pytest.mark.parametrize(
    ("routing", "error"),
    [
        (
            with_oncall({"slack": {"api_url": SECRETS["slack-retail.url"]}}),
            "oncall[0].slack: unknown key api_url (a secret goes in a file: api_url_file)",
        ),
        (
            with_oncall({"slack": {"api_url_file": SECRETS["slack-retail.url"]}}),
            "oncall[0].slack.api_url_file: expected a file's name, not the secret",
        ),
        (
            with_oncall({"pagerduty": {"routing_key": SECRETS["pagerduty-platform.key"]}}),
            "oncall[0].pagerduty: unknown key routing_key (a secret goes in a file: "
            "routing_key_file)",
        ),
        (
            with_oncall({"webhook": {"url": "https://hooks.example/x?token=bearer-SECRET-4"}}),
            "oncall[0].webhook.url: carries a credential; put it in a file named by "
            "bearer_token_file",
        ),
        (
            with_oncall({"webhook": {"url": "https://me:bearer-SECRET-4@hooks.example/x"}}),
            "oncall[0].webhook.url: carries a credential; put it in a file named by "
            "bearer_token_file",
        ),
        (
            with_oncall({"email": {"to": "a@b.c", "from": "d@e.f", "smarthost": "smtp"}}),
            "oncall[0].email.smarthost: expected host:port, got 'smtp'",
        ),
        (
            with_oncall(
                {
                    "email": {
                        "to": "a@b.c",
                        "from": "d@e.f",
                        "smarthost": "h:25",
                        "auth_username": "u",
                    }
                }
            ),
            "oncall[0].email: auth_username and auth_password_file go together",
        ),
        (with_oncall({"sms": {"to": "+1"}}), "oncall[0].sms: unknown receiver kind"),
        ({**ROUTING, "oncall": []}, "oncall: expected a list of receivers"),
        (
            {**ROUTING, "brands": {"acme": "marketing"}},
            "brands.acme: 'marketing' is not one of the teams",
        ),
        ({**ROUTING, "brands": {'ac"me': "retail"}}, "brands: 'ac\"me' is no brand label"),
        ({**ROUTING, "default_team": "sales"}, "default_team: 'sales' is not one of the teams"),
        (
            {**ROUTING, "teams": {"oncall": ROUTING["teams"]["platform"]}},
            "teams.oncall: a team's name is lower case letters, digits and dashes (not oncall)",
        ),
        (
            {**ROUTING, "teams": {"platform": {"page": ROUTING["oncall"]}}},
            "teams.platform: expected page and ticket, each a list of receivers",
        ),
        ({**ROUTING, "timing": {"group_wait": "soon"}}, "timing.group_wait: expected one of"),
        ({**ROUTING, "pagers": []}, "unknown key pagers"),
    ],
)
def test_a_bad_routing_file_is_refused_in_one_line_without_its_secrets(
    tmp_path: Path, routing: dict[str, Any], error: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        alertmanager.generate(settings_for(tmp_path, routing))
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'routing.yaml'}: ")
    assert error in message
    assert "\n" not in message
    assert not any(value in message for value in SECRETS.values())


def test_a_missing_routing_file_is_named(tmp_path: Path) -> None:
    settings = Settings.from_env({"ASCOLTO_ALERT_ROUTING": str(tmp_path / "none.yaml")})
    with pytest.raises(ConfigError, match=r"^ASCOLTO_ALERT_ROUTING='.*none.yaml': cannot read it"):
        alertmanager.generate(settings)


# ------------------------------------------------------------------ inhibitions


def defined_alerts() -> dict[str, Alert]:
    return {
        rule.name: rule
        for file in (alerts.FILE, infra_alerts.FILE)
        for group in file.groups
        for rule in group.rules
        if isinstance(rule, Alert)
    }


SEVERITY_RANK = {"ticket": 0, "page": 1}


def test_inhibitions_name_alerts_that_exist() -> None:
    named = {name for i in INHIBITIONS for name in (i.source, *i.targets)}
    assert named - set(defined_alerts()) == set()


def test_an_inhibition_never_silences_a_page_by_a_ticket_nor_a_customers_alert() -> None:
    defined = defined_alerts()
    for inhibition in INHIBITIONS:
        source = defined.get(inhibition.source)
        for name in inhibition.targets:
            target = defined.get(name)
            assert target is None or target.team != "support", f"{name}: customers' alert"
            if source and target:
                assert SEVERITY_RANK[source.severity] >= SEVERITY_RANK[target.severity], (
                    f"{source.name} ({source.severity}) silences {name} ({target.severity})"
                )


def test_worker_down_keeps_silencing_the_stall_it_causes() -> None:
    rules = yaml.safe_load(SHIPPED.read_text())["inhibit_rules"]
    assert {
        "source_matchers": ['alertname="WorkerDown"'],
        "target_matchers": ['alertname=~"PipelineStalled|ConsumerLagGrowing"'],
    } in rules


def inhibition_table() -> dict[str, set[str]]:
    """docs/alerting.md's inhibition table: source -> the alerts it silences."""
    section = DOC.read_text().split("## Inhibitions", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for row in re.findall(r"^\| `(\w+)` \| ([^|]+) \|", section, flags=re.MULTILINE):
        table.setdefault(row[0], set()).update(re.findall(r"`(\w+)`", row[1]))
    return table


def test_the_inhibition_table_in_the_docs_is_the_generated_one() -> None:
    generated: dict[str, set[str]] = {}
    for inhibition in INHIBITIONS:
        generated.setdefault(inhibition.source, set()).update(inhibition.targets)
    assert inhibition_table() == generated


# ------------------------------------------------------------------ runbook links


def test_the_default_runbook_is_on_the_repositorys_forge() -> None:
    home = yaml.safe_load((ROOT / "deploy" / "helm" / "ascolto" / "Chart.yaml").read_text())["home"]
    assert home.startswith("https://")
    assert DEFAULTS.observability.runbook_base_url == f"{home}/blob/main/docs/runbook.md"
