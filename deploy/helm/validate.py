"""Check Kubernetes manifests offline: every built-in kind against Kubernetes' own JSON schemas
(kubernetes-validate, strict: an unknown field is an error), at the oldest and the newest
Kubernetes the chart supports; the custom resources it renders or the examples define, which
have no schema there, against the shape of their CRDs' required fields.

    .venv/bin/python deploy/helm/validate.py FILE.yaml...     (deploy/helm/check.sh runs it)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")  # the chart's kubeVersion floor; the newest bundled

Problems = list[str]


def _need(doc: dict[str, Any], *paths: str) -> Problems:
    """The dotted paths that are missing or empty in doc."""
    missing = []
    for path in paths:
        node: Any = doc
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node in (None, "", [], {}):
            missing.append(f"{path} is missing")
    return missing


def _each(items: Iterable[Any], where: str, *paths: str) -> Problems:
    return [f"{where}[{i}].{p}" for i, item in enumerate(items) for p in _need(item, *paths)]


def _pod_monitor(doc: dict[str, Any]) -> Problems:
    spec = doc.get("spec", {})
    return _need(doc, "spec.selector", "spec.podMetricsEndpoints") + _each(
        spec.get("podMetricsEndpoints", []), "spec.podMetricsEndpoints", "port"
    )


def _prometheus_rule(doc: dict[str, Any]) -> Problems:
    groups = doc.get("spec", {}).get("groups", [])
    problems = _need(doc, "spec.groups") + _each(groups, "spec.groups", "name", "rules")
    for g in groups:
        for rule in g.get("rules", []):
            if ("alert" in rule) == ("record" in rule) or not rule.get("expr"):
                problems.append(f"group {g.get('name')}: a rule needs alert or record, and expr")
    return problems


def _scaled_object(doc: dict[str, Any]) -> Problems:
    triggers = doc.get("spec", {}).get("triggers", [])
    return _need(doc, "spec.scaleTargetRef.name", "spec.triggers") + _each(
        triggers, "spec.triggers", "type", "metadata"
    )


def _trigger_authentication(doc: dict[str, Any]) -> Problems:
    spec = doc.get("spec", {})
    return _each(
        spec.get("secretTargetRef", []), "spec.secretTargetRef", "parameter", "name", "key"
    ) + _each(spec.get("env", []), "spec.env", "parameter", "name")


def _strimzi(doc: dict[str, Any]) -> Problems:
    """Strimzi's operators act only on resources labelled with their Kafka cluster's name."""
    labels = doc.get("metadata", {}).get("labels", {})
    return [] if labels.get("strimzi.io/cluster") else ["metadata.labels lacks strimzi.io/cluster"]


def _kafka_topic(doc: dict[str, Any]) -> Problems:
    return _strimzi(doc) + _need(doc, "spec.partitions", "spec.replicas")


def _kafka_user(doc: dict[str, Any]) -> Problems:
    acls = doc.get("spec", {}).get("authorization", {}).get("acls", [])
    return (
        _strimzi(doc)
        + _need(doc, "spec.authentication.type", "spec.authorization.type")
        + _each(acls, "spec.authorization.acls", "resource.type", "operations")
    )


def _kafka(doc: dict[str, Any]) -> Problems:
    listeners = doc.get("spec", {}).get("kafka", {}).get("listeners", [])
    return _need(doc, "spec.kafka.listeners") + _each(
        listeners, "spec.kafka.listeners", "name", "port", "type"
    )


def _kafka_node_pool(doc: dict[str, Any]) -> Problems:
    return _strimzi(doc) + _need(doc, "spec.replicas", "spec.roles", "spec.storage.type")


def _elasticsearch(doc: dict[str, Any]) -> Problems:
    node_sets = doc.get("spec", {}).get("nodeSets", [])
    return _need(doc, "spec.version", "spec.nodeSets") + _each(
        node_sets, "spec.nodeSets", "name", "count"
    )


# (apiVersion, kind) -> the check of a custom resource's required fields (from its CRD).
CUSTOM: dict[tuple[str, str], Callable[[dict[str, Any]], Problems]] = {
    ("monitoring.coreos.com/v1", "PodMonitor"): _pod_monitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): _prometheus_rule,
    ("keda.sh/v1alpha1", "ScaledObject"): _scaled_object,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): _trigger_authentication,
    ("kafka.strimzi.io/v1beta2", "Kafka"): _kafka,
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): _kafka_node_pool,
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): _kafka_topic,
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): _kafka_user,
    ("elasticsearch.k8s.elastic.co/v1", "Elasticsearch"): _elasticsearch,
}


def check(doc: dict[str, Any]) -> Problems:
    """What is wrong with one manifest (empty when it is valid)."""
    problems = _need(doc, "apiVersion", "kind", "metadata.name")
    if problems:
        return problems
    custom = CUSTOM.get((doc["apiVersion"], doc["kind"]))
    if custom:
        return custom(doc)
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            problems.append(f"Kubernetes {version}: {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"Kubernetes {version} has no {doc['kind']} in {doc['apiVersion']}")
    return problems


def main(files: list[str]) -> int:
    failed = checked = 0
    for file in files:
        for doc in yaml.safe_load_all(Path(file).read_text()):
            if not doc:
                continue
            checked += 1
            for problem in check(doc):
                failed += 1
                print(f"{file}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {problem}")
    print(f"validate: {checked} manifests in {len(files)} files, {failed} problems")
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
