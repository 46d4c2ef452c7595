"""What the Helm chart renders for the nudger (`ascolto nudger`, docs/nudges.md): off by default;
when on, one pod at a time, its nudges file from a ConfigMap, its brands' webhooks from a
Secret, its own Kafka principal and no Elasticsearch credentials."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.unit.test_chart import KEYS, env_of, helm, mounted_file, pod_spec, render

__all__ = ["helm"]  # the fixture, shared with test_chart.py


NUDGES = "brands:\n  Acme:\n    webhook_url_file: /etc/ascolto/nudger-webhooks/acme\n"
NUDGER = [
    *KEYS,
    "--set",
    "nudger.enabled=true",
    "--set",
    "nudger.webhooks.secretName=team-hooks",
    "--set-string",
    f"nudger.nudges={NUDGES}",
]
SASL = ["--set", "kafka.securityProtocol=SASL_SSL"]
USER_SECRETS = [
    f"--set=kafka.users.{u}.secretName=ascolto-{u}" for u in ("ingest", "worker", "cli")
]
SECURED = [
    *SASL,
    *USER_SECRETS,
    "--set=kafka.users.nudger.secretName=ascolto-nudger",
    "--set=elasticsearch.auth.type=apiKey",
    "--set=elasticsearch.auth.secretName=es-key",
]


def test_the_nudger_is_off_by_default(helm: Path) -> None:
    done = render(helm, *KEYS)
    assert done.returncode == 0, done.stderr
    assert "ascolto-nudger" not in done.stdout


def test_the_nudger_runs_once_with_its_file_its_webhooks_and_its_own_principal(
    helm: Path,
) -> None:
    done = render(helm, *NUDGER, *SECURED)
    assert done.returncode == 0, done.stderr
    manifests = [d for d in yaml.safe_load_all(done.stdout) if d]
    (deployment,) = [
        d
        for d in manifests
        if d["metadata"]["name"] == "ascolto-nudger" and d["kind"] == "Deployment"
    ]
    # one instance, never two: not even while a rollout replaces it
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = env_of(container)
    # the nudges file is the ConfigMap's, and the webhook file it names is in the Secret
    volume, mount = mounted_file(spec, env["ASCOLTO_NUDGES"])
    (config_map,) = [
        d
        for d in manifests
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == volume["configMap"]["name"]
    ]
    assert config_map["data"]["nudges.yaml"] == NUDGES
    hook = yaml.safe_load(NUDGES)["brands"]["Acme"]["webhook_url_file"]
    volume, mount = mounted_file(spec, hook)
    assert volume["secret"] == {"secretName": "team-hooks", "defaultMode": 0o440}
    assert mount["readOnly"] is True and "subPath" not in mount
    # its own Kafka user, and no Elasticsearch credentials: it only links to it
    assert env["ASCOLTO_KAFKA_SASL_USERNAME"] == "ascolto-nudger"
    volume, _ = mounted_file(spec, env["ASCOLTO_KAFKA_SASL_PASSWORD_FILE"])
    assert volume["secret"]["secretName"] == "ascolto-nudger"
    assert not {"ASCOLTO_ES_API_KEY_FILE", "ASCOLTO_ES_CA_CERTS"} & set(env)
    assert all(v.get("secret", {}).get("secretName") != "es-key" for v in spec["volumes"])
    # the worker's securityContext; the probe asks the port /metrics is served on
    worker = pod_spec(helm, "worker", *NUDGER, *SECURED)
    assert spec["securityContext"] == worker["securityContext"]
    assert container["securityContext"] == worker["containers"][0]["securityContext"]
    port = container["args"][container["args"].index("--metrics-port") + 1]
    assert container["ports"] == [{"name": "web", "containerPort": int(port)}]
    assert container["livenessProbe"]["httpGet"]["port"] == "web"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["ascolto.io/job"] == "ascolto-nudger"


def test_the_nudger_needs_its_kafka_credentials_on_a_secured_cluster(helm: Path) -> None:
    done = render(helm, *NUDGER, *SASL, *USER_SECRETS)
    assert done.returncode != 0
    assert "kafka.users.nudger: SASL_SSL needs its secretName (or a password)" in done.stderr
