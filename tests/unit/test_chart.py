"""The Helm chart's inputs that no helm run checks: its rule files are the generated ones, and
the Strimzi and ECK examples agree with the topics, principals and settings the code uses;
and what the chart renders for ingest's API keys, signing secret and TLS.

Schema validation is `make helm-check` (deploy/helm/check.sh), which also builds the helm
these tests render with. Strimzi's and ECK's resources have no schema in kubernetes-validate:
deploy/helm/validate.py checks their CRDs' required fields, and these tests check what they
say.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from ascolto.config import DECLARED, ROOT, Settings
from ascolto.secret import Secret
from ascolto.settings_table import FILE_SUFFIX
from ascolto.topics import group_specs, topic_specs
from observability import CHART_RULES_DIR, RULES_DIR, generate
from services.ingest.auth.keys import new_key, write_keys
from services.ingest.auth.store import LiveKeys
from services.nudges import ledger_configs

HELM = ROOT / "deploy" / "helm"
EXAMPLES = HELM / "examples"
CHART_VALUES = yaml.safe_load((HELM / "ascolto" / "values.yaml").read_text())
EXAMPLE_VALUES = yaml.safe_load((EXAMPLES / "values-strimzi-eck.yaml").read_text())
# What the Strimzi examples are written for (their header says so).
CLUSTER = Settings.from_env(
    {
        "ASCOLTO_PARTITIONS": "12",
        "ASCOLTO_REPLICATION_FACTOR": "3",
        "ASCOLTO_MIN_INSYNC_REPLICAS": "2",
    }
)


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def load_validate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_validate", HELM / "validate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ rules


def test_the_chart_rules_are_the_generated_rules() -> None:
    chart = generate.rules_output(Settings.from_env({}), CHART_RULES_DIR)
    assert chart.stale() == [], "run `make grafana` and commit the result"
    assert sorted(p.name for p in CHART_RULES_DIR.glob("*.yml")) == sorted(chart.files)
    for name in chart.files:  # and the very files promtool tests
        assert (CHART_RULES_DIR / name).read_text() == (RULES_DIR / name).read_text()


def test_the_check_covers_the_chart_rules(tmp_path: Path) -> None:
    (tmp_path / "ascolto-alerts.yml").write_text("groups: []\n")
    stale = generate.rules_output(Settings.from_env({}), tmp_path).stale()
    assert stale == [
        f"{tmp_path}/ascolto-recording.yml: missing, expected by the generator",
        f"{tmp_path}/ascolto-alerts.yml: differs from the generator",
        f"{tmp_path}/ascolto-infrastructure.yml: missing, expected by the generator",
    ]
    assert CHART_RULES_DIR in [o.directory for o in generate.every_output(Settings.from_env({}))]


# ------------------------------------------------------------------ Strimzi


def test_the_kafka_topics_are_the_topic_specs() -> None:
    k, app_id = CLUSTER.kafka, CLUSTER.worker.app_id
    min_insync = {"min.insync.replicas": str(k.min_insync_replicas)}
    expected = {
        name: (k.partitions, k.replication_factor, config | min_insync)
        for name, config in (topic_specs(k) | group_specs(app_id)).items()
    }
    expected[LEDGER] = (k.partitions, k.replication_factor, ledger_configs(k))
    found = {
        t["metadata"]["name"]: (
            t["spec"]["partitions"],
            t["spec"]["replicas"],
            {key: str(value) for key, value in t["spec"]["config"].items()},
        )
        for t in docs("strimzi-topics.yaml")
    }
    assert found == expected


def _allows(user: dict[str, Any], kind: str, name: str, operation: str) -> bool:
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        if resource["type"] != kind or operation not in acl["operations"]:
            continue
        if kind == "cluster":
            return True
        pattern = resource.get("patternType", "literal")
        if (pattern == "literal" and resource["name"] in (name, "*")) or (
            pattern == "prefix" and name.startswith(resource["name"])
        ):
            return True
    return False


USERS = {u["metadata"]["name"]: u for u in docs("strimzi-users.yaml")}
K = CLUSTER.kafka
APP_ID = CLUSTER.worker.app_id
TOPICS = set(topic_specs(K) | group_specs(APP_ID))
DERIVED = {K.enriched, K.conversations, K.sla_events}
CHANGELOGS = set(group_specs(APP_ID))  # the worker group's own topics
LEDGER = K.topic(CLUSTER.support.nudges.ledger_topic)  # the nudger's, not the pipeline's
NUDGER_GROUP = CLUSTER.support.nudges.group
# principal -> operation -> the topics it must be allowed on; every other topic it must not.
NEEDS: dict[str, dict[str, set[str]]] = {
    "ascolto-ingest": {"Write": {K.raw, K.schemas}, "Read": {K.schemas}, "Create": set()},
    "ascolto-worker": {
        "Read": {K.raw, K.keyed, K.customers, K.schemas} | DERIVED | CHANGELOGS,
        "Write": {K.keyed, K.dlq, K.audit, K.schemas} | DERIVED | CHANGELOGS,
        "Create": CHANGELOGS,
        "Describe": TOPICS,
    },
    # the indexer checks the pipeline's topics at start, not the worker's changelogs
    "ascolto-indexer": {
        "Read": DERIVED | {K.schemas},
        "Write": {K.dlq, K.schemas},
        "Create": set(),
        "Describe": TOPICS - CHANGELOGS,
    },
    "ascolto-cli": {
        "Read": TOPICS - CHANGELOGS,
        "Write": {K.customers, K.schemas},
        "Create": TOPICS,
        "Describe": TOPICS,
    },
    # the SLA events in, its ledger: no other topic
    "ascolto-nudger": {
        "Read": {K.sla_events, LEDGER},
        "Write": {LEDGER},
        "Create": {LEDGER},
        "Describe": {K.sla_events, LEDGER},
        "DescribeConfigs": {K.sla_events, LEDGER},
    },
    # erase and dlq replay: write the stages' inputs, read what they wait on; no group
    "ascolto-operator": {
        "Read": {K.dlq, K.dlq_replayed, K.customers, K.audit, K.schemas},
        "Write": {K.raw, K.keyed, K.customers, K.audit, K.schemas, K.dlq_replayed} | DERIVED,
        "Create": set(),
        "Describe": TOPICS - CHANGELOGS,
    },
}
GROUPS = {
    "ascolto-ingest": set(),
    "ascolto-worker": {APP_ID, CLUSTER.worker.index_group},
    "ascolto-indexer": {CLUSTER.worker.index_group},
    "ascolto-cli": set(),
    "ascolto-operator": set(),
    "ascolto-nudger": {NUDGER_GROUP},
}


@pytest.mark.parametrize("principal", sorted(NEEDS))
def test_each_principal_gets_the_topics_it_uses_and_no_others(principal: str) -> None:
    user = USERS[principal]
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert user["spec"]["authorization"]["type"] == "simple"
    for operation, topics in NEEDS[principal].items():
        allowed = {t for t in TOPICS | {LEDGER} if _allows(user, "topic", t, operation)}
        assert allowed == topics, operation
    consumer_groups = {APP_ID, CLUSTER.worker.index_group, NUDGER_GROUP, "other"}
    assert {g for g in consumer_groups if _allows(user, "group", g, "Read")} == GROUPS[principal]


def test_the_acl_check_tells_literal_from_prefix() -> None:
    acls = [
        {
            "resource": {"type": "topic", "name": "a.", "patternType": "prefix"},
            "operations": ["Read"],
        },
        {"resource": {"type": "topic", "name": "b"}, "operations": ["Write"]},
    ]
    user = {"spec": {"authorization": {"acls": acls}}}
    assert _allows(user, "topic", "a.x", "Read") and not _allows(user, "topic", "a.x", "Write")
    assert _allows(user, "topic", "b", "Write") and not _allows(user, "topic", "bb", "Write")


def test_the_chart_values_name_the_strimzi_users_and_secrets() -> None:
    cluster = docs("strimzi-kafka.yaml")[-1]["metadata"]["name"]
    kafka = EXAMPLE_VALUES["kafka"]
    assert set(kafka["users"]) == set(CHART_VALUES["kafka"]["users"])
    for component, user in kafka["users"].items():
        assert user["username"] in USERS, component
        assert user["secretName"] == user["username"]  # Strimzi's secret is named after the user
        assert user["username"] == CHART_VALUES["kafka"]["users"][component]["username"]
    assert kafka["bootstrap"] == f"{cluster}-kafka-bootstrap:9093"
    assert kafka["ca"]["secretName"] == f"{cluster}-cluster-ca-cert"
    listener = docs("strimzi-kafka.yaml")[-1]["spec"]["kafka"]["listeners"][0]
    assert (listener["port"], listener["tls"]) == (9093, True)
    assert listener["authentication"]["type"] == kafka["saslMechanism"].lower()


# ------------------------------------------------------------------ ECK


def test_the_chart_values_name_the_eck_service_ca_and_user() -> None:
    roles_secret, es = docs("eck-elasticsearch.yaml")
    name = es["metadata"]["name"]
    values = EXAMPLE_VALUES["elasticsearch"]
    assert values["url"] == f"https://{name}-es-http:9200"
    assert values["ca"]["secretName"] == f"{name}-es-http-certs-public"
    assert [r["secretName"] for r in es["spec"]["auth"]["fileRealm"]] == [
        values["auth"]["secretName"]
    ]
    assert es["spec"]["auth"]["roles"] == [{"secretName": roles_secret["metadata"]["name"]}]
    roles = yaml.safe_load(roles_secret["stringData"]["roles.yml"])
    names = [n for r in roles["ascolto_writer"]["indices"] for n in r["names"]]
    assert names == [f"{CHART_VALUES['elasticsearch']['indexPrefix']}-*"]
    assert es["spec"]["version"] == DECLARED.by_env["ASCOLTO_ES_VERSION"].default


def test_the_examples_run_the_versions_the_stack_tests() -> None:
    kafka = docs("strimzi-kafka.yaml")[-1]
    assert kafka["spec"]["kafka"]["version"] == DECLARED.by_env["ASCOLTO_KAFKA_VERSION"].default


# ------------------------------------------------------------------ structure


def test_every_example_resource_has_its_required_fields() -> None:
    validate = load_validate()
    files = [p for p in sorted(EXAMPLES.glob("*.yaml")) if "values" not in p.name]
    kinds = set()
    for path in files:
        for doc in docs(path.name):
            kinds.add(doc["kind"])
            assert validate.check(doc) == [], (path.name, doc["metadata"]["name"])
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Elasticsearch"} <= kinds


def test_the_structure_check_finds_what_is_missing() -> None:
    validate = load_validate()
    topic = docs("strimzi-topics.yaml")[0]
    unlabelled = topic | {"metadata": {"name": "x"}}
    assert validate.check(unlabelled) == ["metadata.labels lacks strimzi.io/cluster"]
    no_partitions = topic | {"spec": {"replicas": 3}}
    assert validate.check(no_partitions) == ["spec.partitions is missing"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "r"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "record": "b", "expr": "1"}]}]},
    }
    assert validate.check(rule) == ["group g: a rule needs alert or record, and expr"]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    assert validate.check(service | {"spec": {"prots": []}}) != []  # strict: unknown field
    assert validate.check(service | {"spec": {"ports": [{"port": 80}]}}) == []


# ------------------------------------------------------------------ ingest: keys, signing, TLS

CHECK = HELM / "check.sh"
HELM_VERSION = re.search(r"^HELM_VERSION=(\S+)$", CHECK.read_text(), re.M)[1]  # type: ignore[index]
KEYS = ["--set", "ingest.keys.secretName=ingest-keys"]


@pytest.fixture(scope="module")
def helm() -> Path:
    """helm as deploy/helm/check.sh builds it, once, into the run directory."""
    run_dir = Path(os.environ.get("ASCOLTO_RUN_DIR", ROOT / ".run"))
    path = run_dir / "tools" / f"helm-{HELM_VERSION}" / "helm"
    if not path.exists():
        subprocess.run([str(CHECK)], check=True, cwd=ROOT)
    return path


def render(helm: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [str(helm), "template", "ascolto", str(HELM / "ascolto"), "--namespace", "ns"]
    return subprocess.run([*command, *options], capture_output=True, text=True)


def pod_spec(helm: Path, component: str, *options: str) -> dict[str, Any]:
    done = render(helm, *options)
    assert done.returncode == 0, done.stderr
    for doc in yaml.safe_load_all(done.stdout):
        if (
            doc
            and doc["kind"] in ("Deployment", "StatefulSet")
            and doc["metadata"]["name"] == (f"ascolto-{component}")
        ):
            return doc["spec"]["template"]["spec"]
    raise AssertionError(f"no {component} workload rendered")


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def mounted_file(spec: dict[str, Any], path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The volume and mount a file path lies in."""
    (container,) = spec["containers"]
    for mount in container["volumeMounts"]:
        if path.startswith(mount["mountPath"] + "/"):
            (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
            return volume, mount
    raise AssertionError(f"{path} is in no mounted volume")


def test_without_a_key_store_the_chart_refuses_to_render(helm: Path) -> None:
    done = render(helm)
    assert done.returncode != 0
    assert "ingest.keys.secretName: name the Secret holding ingest's API key store" in done.stderr


def test_ingest_reads_its_key_store_from_the_whole_secret_mounted_read_only(helm: Path) -> None:
    spec = pod_spec(helm, "ingest", *KEYS, "--set", "ingest.keys.key=store.json")
    env = env_of(spec["containers"][0])
    volume, mount = mounted_file(spec, env["ASCOLTO_INGEST_KEYS_FILE"])
    assert volume["secret"]["secretName"] == "ingest-keys"
    assert env["ASCOLTO_INGEST_KEYS_FILE"] == f"{mount['mountPath']}/store.json"
    # the kubelet updates a Secret volume in place, but never a file mounted with subPath
    assert mount["readOnly"] is True and "subPath" not in mount
    # readable by the pod's group only (fsGroup: the image's user's group)
    assert volume["secret"]["defaultMode"] == 0o440
    assert spec["securityContext"]["fsGroup"] == 10001
    unset = {"ASCOLTO_INGEST_SIGNING_SECRET_FILE", "ASCOLTO_INGEST_TLS_CERTFILE"}
    assert not unset & set(env)
    probes = [spec["containers"][0][p]["httpGet"] for p in ("livenessProbe", "readinessProbe")]
    assert [p.get("scheme", "HTTP") for p in probes] == ["HTTP", "HTTP"]


def test_only_ingest_mounts_the_key_store(helm: Path) -> None:
    spec = pod_spec(helm, "worker", *KEYS)
    assert "ASCOLTO_INGEST_KEYS_FILE" not in env_of(spec["containers"][0])
    assert all(v.get("secret", {}).get("secretName") != "ingest-keys" for v in spec["volumes"])


def test_signing_secret_and_tls_come_from_their_secrets_and_the_probes_use_https(
    helm: Path,
) -> None:
    options = [
        "--set",
        "ingest.signingSecret.secretName=signing",
        "--set",
        "ingest.tls.secretName=tls",
    ]
    spec = pod_spec(helm, "ingest", *KEYS, *options)
    container = spec["containers"][0]
    env = env_of(container)
    for name, secret, key in [
        ("ASCOLTO_INGEST_SIGNING_SECRET_FILE", "signing", "signing-secret"),
        ("ASCOLTO_INGEST_TLS_CERTFILE", "tls", "tls.crt"),
        ("ASCOLTO_INGEST_TLS_KEYFILE", "tls", "tls.key"),
    ]:
        volume, mount = mounted_file(spec, env[name])
        assert volume["secret"]["secretName"] == secret, name
        assert env[name] == f"{mount['mountPath']}/{key}" and mount["readOnly"] is True
    probes = [container[p]["httpGet"] for p in ("livenessProbe", "readinessProbe")]
    assert [p["scheme"] for p in probes] == ["HTTPS", "HTTPS"]


def test_every_setting_the_chart_sets_is_declared(helm: Path) -> None:
    values = HELM / "ascolto" / "ci" / "everything-on-values.yaml"
    names: set[str] = set()
    for component in ("ingest", "worker", "indexer"):
        spec = pod_spec(helm, component, "--values", str(values))
        names |= set(env_of(spec["containers"][0]))
    secrets = {n for n, s in DECLARED.by_env.items() if s.kind is Secret}
    declared = set(DECLARED.by_env) | {f"{n}{FILE_SUFFIX}" for n in secrets}
    assert names - declared == set()
    assert "ASCOLTO_INGEST_SIGNING_SECRET_FILE" in names


def test_the_retention_values_are_the_declared_defaults(helm: Path) -> None:
    retention = CHART_VALUES["kafka"]["retention"]
    indices = CHART_VALUES["elasticsearch"]["retention"]
    assert {
        "ASCOLTO_RETENTION_DAYS": retention["days"],
        "ASCOLTO_DLQ_RETENTION_DAYS": retention["dlqDays"],
        "ASCOLTO_AUDIT_RETENTION_DAYS": retention["auditDays"],
        "ASCOLTO_ES_CONTACTS_RETENTION_DAYS": indices["contactsDays"],
        "ASCOLTO_ES_CONVERSATIONS_RETENTION_DAYS": indices["conversationsDays"],
        "ASCOLTO_ES_SLA_EVENTS_RETENTION_DAYS": indices["slaEventsDays"],
    } == {n: int(s.default) for n, s in DECLARED.by_env.items() if n.endswith("RETENTION_DAYS")}
    env = env_of(
        pod_spec(helm, "worker", *KEYS, "--set", "kafka.retention.dlqDays=9")["containers"][0]
    )
    assert env["ASCOLTO_DLQ_RETENTION_DAYS"] == "9"


def test_the_store_sees_a_secret_volume_updated_by_the_kubelet(tmp_path: Path) -> None:
    """As the kubelet's atomic writer updates a Secret volume: the file is a symlink through
    `..data` to a timestamped directory, and an update swaps `..data` to a new one."""

    def version(name: str, keys: dict[str, Any]) -> None:
        write_keys(tmp_path / name / "ingest-keys.json", keys)
        (tmp_path / "..data.tmp").symlink_to(name)
        os.replace(tmp_path / "..data.tmp", tmp_path / "..data")

    first, _ = new_key("first")
    second, _ = new_key("second")
    version("..2026_12_07_01", {first.key_id: first})
    (tmp_path / "ingest-keys.json").symlink_to("..data/ingest-keys.json")
    now = [0.0]
    store = LiveKeys(tmp_path / "ingest-keys.json", check_every_s=1, clock=lambda: now[0])
    assert store.get(first.key_id) and not store.get(second.key_id)
    version("..2026_12_07_02", {second.key_id: second})
    now[0] = 2.0
    assert store.get(second.key_id) and not store.get(first.key_id)
