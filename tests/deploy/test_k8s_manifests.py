"""Every manifest in k8s/ is valid Kubernetes, checked offline, and the files agree with each
other and with the worker they run.

Built-in kinds are validated strictly (unknown fields fail) against the OpenAPI schemas that
``kubernetes-validate`` bundles, for the oldest Kubernetes the manifests claim and the newest
the package knows. Custom resources (KEDA's ScaledObject, the Prometheus Operator's
ServiceMonitor and PrometheusRule) are not in those schemas: ``CUSTOM`` lists them, and they
are checked structurally (apiVersion, kind, the fields their controllers require).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from streams.adapters.faust.routes import add_routes
from streams.adapters.prometheus.text_families import MetricsRegistry
from streams.cli import main
from streams.settings import Settings
from tests.deploy.test_prometheus_rules import exported_names

ROOT = Path(__file__).parents[2]
K8S = ROOT / "k8s"
# The oldest Kubernetes the manifests claim (k8s/README.md) and the newest the package knows.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CUSTOM = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
# Measured: a SIGTERM stops the worker within 10 s, Redis hung or not
# (tests/integration/test_shutdown.py); soak RSS at most 315.7 MiB (BENCHMARKS.md, Memory:
# 10M events, 50 models, 2026-12-07).
STOP_BOUND_S = 10
SOAK_RSS_MIB = 315.7


@functools.cache
def documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, resource) for every YAML document in k8s/."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                found.append((path.name, doc))
    return found


def one(kind: str, name: str = "driftline-worker") -> dict[str, Any]:
    found = [d for _, d in documents()
             if d["kind"] == kind and name in (d["metadata"].get("name"),
                                                d["metadata"].get("generateName"))]  # fmt: skip
    assert len(found) == 1, f"exactly one {kind} {name} in k8s/, found {len(found)}"
    return found[0]


def worker_container() -> dict[str, Any]:
    containers = one("StatefulSet")["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "worker")


def worker_settings(pod_name: str = "driftline-worker-0") -> Settings:
    """The Settings a worker pod gets: the ConfigMap, plus its env entries (the Downward
    API's fields resolved for ``pod_name``, Secrets left out)."""
    env = dict(one("ConfigMap", "driftline-config")["data"])
    for entry in worker_container()["env"]:
        field = entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if field == "metadata.name":
            env[entry["name"]] = pod_name
        elif "value" in entry:
            env[entry["name"]] = entry["value"]
    return Settings.from_env(env)


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are checked here"
    wanted = selector.get("matchLabels", {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def pod_labels() -> dict[str, str]:
    return one("StatefulSet")["spec"]["template"]["metadata"]["labels"]


def mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity).groups()
    return float(number) * (1024 if unit == "Gi" else 1)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("name", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
def test_every_manifest_is_valid_kubernetes_or_a_listed_custom_resource(name, doc, version):
    if (doc["apiVersion"], doc["kind"]) in CUSTOM:
        check_custom_resource(doc)
        return
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{name}: {doc['kind']} {doc['metadata']['name']}: {exc.message} at {exc.path}")


def check_custom_resource(doc: dict[str, Any]) -> None:
    assert doc["metadata"]["name"]
    spec = doc["spec"]
    if doc["kind"] == "ScaledObject":
        assert spec["scaleTargetRef"]["name"]
        assert spec["triggers"], "a ScaledObject needs triggers"
        for trigger in spec["triggers"]:
            assert trigger["type"] == "kafka"
            assert {"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} <= set(
                trigger["metadata"]
            )
            assert all(isinstance(v, str) for v in trigger["metadata"].values()), "strings only"
    elif doc["kind"] == "ServiceMonitor":
        assert spec["selector"]["matchLabels"] and spec["endpoints"]
        assert all(e["port"] for e in spec["endpoints"])
    else:
        assert spec["groups"] and all(g["name"] and g["rules"] for g in spec["groups"])


def test_a_manifest_that_breaks_the_schema_fails():
    # The check can fail: a misspelt field and a wrong type are both caught.
    pdb = one("PodDisruptionBudget")
    broken = {**pdb, "spec": {**pdb["spec"], "maxUnavailabel": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)
    broken = {**pdb, "spec": {**pdb["spec"], "selector": "app=driftline"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_replicas_are_capped_at_the_documented_partition_count():
    documented = re.search(r"\*\*(\d+) partitions\*\*", (K8S / "README.md").read_text())
    assert documented, "k8s/README.md states the partition count in bold"
    partitions = int(documented.group(1))
    assert worker_settings().partitions == partitions
    hpa, keda = one("HorizontalPodAutoscaler")["spec"], one("ScaledObject")["spec"]
    assert hpa["maxReplicas"] == keda["maxReplicaCount"] == partitions
    assert hpa["minReplicas"] == keda["minReplicaCount"] <= one("StatefulSet")["spec"]["replicas"]
    assert one("StatefulSet")["spec"]["replicas"] <= partitions


def test_both_autoscalers_scale_the_worker_on_the_lag_of_the_topics_it_consumes():
    settings = worker_settings()
    consumed = {settings.topic_predictions, settings.predictions_by_model}
    target = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "driftline-worker"}
    assert one("StatefulSet")["metadata"]["name"] == target["name"]
    hpa, keda = one("HorizontalPodAutoscaler")["spec"], one("ScaledObject")["spec"]
    assert hpa["scaleTargetRef"] == keda["scaleTargetRef"] == target
    triggers = [t["metadata"] for t in keda["triggers"]]
    assert {t["topic"] for t in triggers} == consumed
    assert {t["consumerGroup"] for t in triggers} == {settings.app_id}
    assert {t["bootstrapServers"] for t in triggers} == {settings.kafka_bootstrap}
    metrics = [m["external"] for m in hpa["metrics"]]
    assert {m["metric"]["name"] for m in metrics} == {"driftline_consumer_lag"}
    assert "driftline_consumer_lag" in exported_names()
    assert {m["metric"]["selector"]["matchLabels"]["topic"] for m in metrics} == consumed
    # The same lag per worker on both roads, topic by topic.
    thresholds = {t["topic"]: int(t["lagThreshold"]) for t in triggers}
    assert thresholds == {
        m["metric"]["selector"]["matchLabels"]["topic"]: int(m["target"]["averageValue"])
        for m in metrics
    }


def test_the_probes_hit_pages_the_worker_serves_on_its_port():
    served = _served_paths()
    container = worker_container()
    probes = {
        k: container[k]["httpGet"] for k in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert probes["readinessProbe"]["path"] == "/health"
    assert probes["livenessProbe"]["path"] == probes["startupProbe"]["path"] == "/live"
    assert {p["path"] for p in probes.values()} <= served
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert {p["port"] for p in probes.values()} == {"http"}
    assert ports["http"] == worker_settings().web_port
    assert worker_settings().web_host == "0.0.0.0", "the kubelet probes from outside the pod"


def _served_paths() -> set[str]:
    """The paths ``add_routes`` registers, recorded by a stand-in for Faust's app."""

    class Recorder:
        def __init__(self) -> None:
            self.paths: set[str] = set()

        def page(self, path: str) -> Callable[[object], object]:  # Faust's decorator factory
            self.paths.add(path)
            return lambda view: view

    recorder = Recorder()
    add_routes(recorder, metrics_registry=MetricsRegistry(), health=None, liveness=None)
    assert recorder.paths, "add_routes registered no page"
    return recorder.paths


def test_each_pod_is_a_static_group_member_under_its_own_name():
    assert worker_settings("driftline-worker-3").group_instance_id == "driftline-worker-3"
    assert worker_settings("driftline-worker-4").group_instance_id == "driftline-worker-4"


def test_selectors_pick_the_worker_pods():
    labels = pod_labels()
    statefulset = one("StatefulSet")["spec"]
    assert matches(statefulset["selector"], labels)
    assert matches(one("PodDisruptionBudget")["spec"]["selector"], labels)
    assert matches(one("NetworkPolicy", "driftline-worker-ingress")["spec"]["podSelector"], labels)
    service = one("Service")
    assert service["metadata"]["name"] == statefulset["serviceName"]
    assert matches({"matchLabels": service["spec"]["selector"]}, labels)
    assert matches(one("ServiceMonitor")["spec"]["selector"], service["metadata"]["labels"])
    for constraint in statefulset["template"]["spec"]["topologySpreadConstraints"]:
        assert matches(constraint["labelSelector"], labels)
    keys = {c["topologyKey"] for c in statefulset["template"]["spec"]["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}


def test_shutdown_and_resources_follow_the_measurements():
    pod = one("StatefulSet")["spec"]["template"]["spec"]
    # Longer than the measured stop, not so long that a hung worker blocks a roll for minutes.
    assert STOP_BOUND_S < pod["terminationGracePeriodSeconds"] <= 6 * STOP_BOUND_S
    resources = worker_container()["resources"]
    assert mebibytes(resources["requests"]["memory"]) > SOAK_RSS_MIB
    assert mebibytes(resources["limits"]["memory"]) >= 2 * SOAK_RSS_MIB
    assert float(resources["requests"]["cpu"]) >= 1, "one Python process keeps a core busy"


def test_the_redrive_job_runs_a_command_the_cli_takes_beside_the_workers_not_among_them(
    capsys,
):
    job = one("Job", "driftline-redrive-")
    pod = job["spec"]["template"]
    labels = pod["metadata"]["labels"]
    for selector in (
        one("StatefulSet")["spec"]["selector"],
        one("PodDisruptionBudget")["spec"]["selector"],
        {"matchLabels": one("Service")["spec"]["selector"]},
        one("NetworkPolicy", "driftline-worker-ingress")["spec"]["podSelector"],
    ):
        assert not matches(selector, labels), selector  # fmt: skip
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["driftline", "redrive"]
    assert {"configMapRef": {"name": "driftline-config"}} in container["envFrom"]
    redis_url = next(e for e in container["env"] if e["name"] == "DRIFTLINE_REDIS_URL")
    assert redis_url["valueFrom"]["secretKeyRef"]["name"] == "driftline-redis"
    # Its args as given are a dry run the parser takes (no servers reached: --help).
    with pytest.raises(SystemExit) as done:
        main(["redrive", *container["args"], "--help"])
    assert done.value.code == 0 and "--dry-run" in container["args"]
    assert "driftline redrive" in capsys.readouterr().out
