"""The dashboards and manifests are ``deploy/generate.py``'s output, well formed, and their
queries only use variables the dashboard defines. (That each query returns data from a live
worker is tests/integration/test_prometheus.py.)"""

from __future__ import annotations

import json
import re
import runpy
import subprocess
from pathlib import Path

import pytest

from streams.stack import debian

ROOT = Path(__file__).parents[2]
generate = runpy.run_path(str(ROOT / "deploy" / "generate.py"))
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__range"}


def test_the_committed_files_are_what_the_generator_writes():
    stale = [path for path, text in generate["outputs"]().items() if path.read_text() != text]
    assert not stale, f"run `python deploy/generate.py` and commit: {stale}"


def dashboards() -> dict[str, dict]:
    folder = ROOT / "deploy" / "grafana" / "dashboards"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def test_the_four_dashboards_exist_with_unique_uids():
    found = dashboards()
    assert set(found) == {"overview", "model", "labels", "slo"}
    assert len({d["uid"] for d in found.values()}) == 4


@pytest.mark.parametrize("name", ["overview", "model", "labels", "slo"])
def test_every_panel_queries_prometheus_with_defined_variables(name):
    dashboard = dashboards()[name]
    defined = {v["name"] for v in dashboard["templating"]["list"]} | GRAFANA_VARIABLES
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["targets"], panel["title"]
        texts = [t["expr"] for t in panel["targets"]] + [panel["title"]]
        for text in texts:
            used = set(re.findall(r"\$(\w+)", text))
            assert used <= defined, (panel["title"], used - defined)
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


def test_the_k8s_manifests_carry_the_sidecar_label_and_the_rules():
    configmap = (ROOT / "k8s" / "grafana-dashboards.yaml").read_text()
    assert 'grafana_dashboard: "1"' in configmap
    assert all(f"  {name}.json: |" in configmap for name in dashboards())
    rules = (ROOT / "k8s" / "prometheus-rules.yaml").read_text()
    assert "kind: PrometheusRule" in rules and "DriftlineDriftAlertFiring" in rules
    monitor = (ROOT / "k8s" / "servicemonitor.yaml").read_text()
    assert "kind: ServiceMonitor" in monitor and "port: http" in monitor


def test_the_compose_prometheus_configuration_is_valid(tmp_path):
    # The config names the rules where the container mounts them; point it at the repo's.
    config = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    rules = str(ROOT / "deploy" / "prometheus" / "rules.yml")
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/rules.yml", rules))
    done = subprocess.run(
        [debian.promtool(print), "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
