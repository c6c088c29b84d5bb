"""The Grafana dashboards, as code: ``python deploy/generate.py`` writes
``deploy/grafana/dashboards/*.json`` and the Kubernetes manifests that carry them and the
Prometheus rules (``k8s/grafana-dashboards.yaml``, ``k8s/prometheus-rules.yaml``).

Why Python and not hand-written JSON or grafana-foundation-sdk: the four dashboards share
their datasource, variables and panel shape, so each panel is one line here (its title, kind
and PromQL) instead of ~40 lines of JSON; the SDK would be a new dependency to save
little more. ``tests/deploy/test_dashboards.py`` checks the JSON files and manifests are
this script's output, and ``tests/integration/test_prometheus.py`` runs every query
against a live Prometheus scraping a worker.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE / "grafana" / "dashboards"
RULES = HERE / "prometheus" / "rules.yml"
K8S = HERE.parent / "k8s"
DS = {"type": "prometheus", "uid": "${datasource}"}
M = 'model="$model"'
MV = 'model="$model", version="$version"'
RATE = "$__rate_interval"
Panel = tuple[str, str, list[tuple[str, str]]]  # title, kind, [(expr, legend)]


def _panel(index: int, title: str, kind: str, queries: list[tuple[str, str]]) -> dict:
    width = 24 if kind == "table" else 12
    panel: dict[str, Any] = {
        "id": index + 1,
        "title": title,
        "type": kind,
        "datasource": DS,
        "gridPos": {
            "h": 8,
            "w": width,
            "x": 0 if width == 24 else 12 * (index % 2),
            "y": 8 * index,
        },
        "targets": [
            {
                "refId": chr(65 + i),
                "datasource": DS,
                "expr": expr,
                "legendFormat": legend,
                **({"instant": True, "format": "table"} if kind == "table" else {}),
            }
            for i, (expr, legend) in enumerate(queries)
        ],
    }
    if kind == "table":
        panel["transformations"] = [{"id": "sortBy", "options": {"sort": [
            {"field": "Value", "desc": True}]}}]  # fmt: skip
    return panel


def _variable(name: str, query: str) -> dict:
    return {
        "name": name,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "includeAll": False,
        "multi": False,
    }


def _dashboard(uid: str, title: str, panels: list[Panel], variables: list[dict],
               annotations: list[dict] | None = None) -> dict:  # fmt: skip
    source = {"name": "datasource", "type": "datasource", "query": "prometheus",
              "label": "Prometheus"}  # fmt: skip
    return {
        "uid": uid,
        "title": title,
        "tags": ["driftline"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [source, *variables]},
        "annotations": {"list": annotations or []},
        "panels": [_panel(i, *panel) for i, panel in enumerate(panels)],
    }


MODEL_VARIABLES = [
    _variable("model", "label_values(driftline_events_processed_total, model)"),
    _variable("version", f"label_values(driftline_monitor_reference_ready{{{M}}}, version)"),
]


def overview() -> dict:
    return _dashboard("driftline-overview", "Driftline / Overview", [
        ("Events/s per model", "timeseries", [
            (f"sum by (model) (rate(driftline_events_processed_total[{RATE}]))", "{{model}}")]),
        ("Consumer lag", "timeseries", [
            ("sum by (topic, partition) (driftline_consumer_lag)", "{{topic}}[{{partition}}]")]),
        ("Dead letters/s by reason", "timeseries", [
            (f"sum by (reason) (rate(driftline_events_rejected_total[{RATE}]))", "{{reason}}")]),
        ("Alerts raised by type (1h)", "timeseries", [
            ('sum by (type) (increase(driftline_alerts_total{status="firing"}[1h]))',
             "{{type}}")]),
        ("Prometheus alerts firing", "table", [
            ('sum by (alertname, severity) (ALERTS{alertstate="firing", '
             'alertname=~"Driftline.*"})', "{{alertname}}")]),
        ("Worker health", "timeseries", [
            ('up{job="driftline-worker"}', "up {{instance}}"),
            ("driftline_health_check_up", "{{check}} {{instance}}")]),
        ("Worker restarts; states rebuilt, or found lost in Redis (1h)", "timeseries", [
            ('changes(process_start_time_seconds{job="driftline-worker"}[1h])',
             "restarts {{instance}}"),
            ("sum by (instance) (increase(driftline_state_saves_refused_total[1h]))",
             "rebuilt {{instance}}"),
            ("sum by (instance) (increase(driftline_state_lost_total[1h]))",
             "written again {{instance}}"),
            ("sum by (instance) (increase(driftline_state_behind_commits_total[1h]))",
             "partitions read again {{instance}}")]),
        ("Event -> alert latency p95 (1h)", "timeseries", [
            ("histogram_quantile(0.95, sum by (le, type) "
             "(increase(driftline_alert_latency_seconds_bucket[1h])))", "{{type}}")]),
        ("Event age at processing", "timeseries", [
            (f"histogram_quantile({q}, sum by (le) "
             f"(rate(driftline_event_age_seconds_bucket[{RATE}])))", f"p{q[2:]}")
            for q in ("0.5", "0.99")]),
        ("Batch processing time p95", "timeseries", [
            ("histogram_quantile(0.95, sum by (le) "
             f"(rate(driftline_batch_processing_seconds_bucket[{RATE}])))", "p95")]),
    ], [])  # fmt: skip


def model() -> dict:
    features = _variable("feature", f"label_values(driftline_feature_stat{{{MV}}}, feature)")
    counts = f"driftline_alerts_total{{{M}}}"
    alerts = {
        "name": "Driftline alerts",
        "datasource": DS,
        "enable": True,
        "iconColor": "red",
        # A label set appears with its first alert (a counter starting at 1, which
        # changes() misses), so: series new in the last minute, or changed in it.
        "expr": f"sum by (type, status) (({counts} unless {counts} offset 1m) "
        f"or changes({counts}[1m]) > 0)",
        "titleFormat": "{{type}} {{status}}",
        "step": "60s",
    }
    return _dashboard("driftline-model", "Driftline / Model", [
        ("Statistic / threshold, last window (severity)", "table", [
            (f"sort_desc(driftline_window_statistic{{{MV}}} "
             f"/ driftline_window_threshold{{{MV}}})", "{{feature}} {{detector}}")]),
        ("Statistic / threshold over time", "heatmap", [
            (f"driftline_window_statistic{{{MV}}} / driftline_window_threshold{{{MV}}}",
             "{{feature}} {{detector}}")]),
        ("$feature: mean and quantiles, window vs reference", "timeseries", [
            (f'driftline_feature_stat{{{MV}, feature="$feature", stat=~"mean|p50|p95"}}',
             "{{stat}} {{source}}")]),
        ("$feature: missing rate and top category share", "timeseries", [
            (f'driftline_feature_stat{{{MV}, feature="$feature", '
             'stat=~"missing_rate|top_share"}', "{{stat}} {{source}}")]),
        ("Score distribution", "bargauge", [
            (f"sum by (le) (increase(driftline_model_score_bucket{{{MV}}}[1h]))", "{{le}}")]),
        ("Prediction drift (score and prediction PSI)", "timeseries", [
            (f'driftline_window_statistic{{{MV}, feature=~"score|prediction"}}',
             "{{feature}} {{detector}}")]),
        ("Anomaly share", "timeseries", [
            (f"sum(rate(driftline_anomalous_events_total{{{M}}}[{RATE}])) "
             f"/ sum(rate(driftline_events_processed_total{{{M}}}[{RATE}]))", "anomalous")]),
        ("Model latency_ms (and its SLO objective)", "timeseries", [
            *[(f"histogram_quantile({q}, sum by (le) "
               f"(rate(driftline_model_latency_ms_bucket{{{MV}}}[{RATE}])))", f"p{q[2:]}")
              for q in ("0.5", "0.99")],
            (f"driftline_model_latency_objective_ms{{{MV}}}", "objective")]),
    ], [*MODEL_VARIABLES, features], [alerts])  # fmt: skip


def labels() -> dict:
    return _dashboard("driftline-labels", "Driftline / Labels & fairness", [
        ("Realised vs estimated performance", "timeseries", [
            (f'driftline_performance{{{MV}, metric=~"accuracy|f1|auc|precision|recall"}}',
             "{{metric}} {{view}}")]),
        ("Label join outcomes/s", "timeseries", [
            (f"sum by (outcome) (rate(driftline_labels_total{{{M}}}[{RATE}]))",
             "{{outcome}}")]),
        ("Performance, concept drift and fairness alerts (1h)", "timeseries", [
            (f'sum by (type, status) (increase(driftline_alerts_total{{{M}, '
             'type=~"performance|concept_drift|fairness"}[1h]))', "{{type}} {{status}}")]),
        ("Selection rate per group", "timeseries", [
            (f'driftline_fairness{{{MV}, metric="selection_rate"}}',
             "{{attribute}}={{group}}")]),
        ("Disparate impact (worst group; four-fifths line)", "timeseries", [
            (f'driftline_fairness{{{MV}, metric="disparate_impact_ratio"}}',
             "{{attribute}}: {{group}}"),
            ("vector(0.8)", "0.8")]),
        ("Parity and equal opportunity differences", "timeseries", [
            (f'driftline_fairness{{{MV}, metric=~".*_difference"}}',
             "{{attribute}} {{metric}} ({{group}})")]),
        ("Labelled vs predicted (window)", "timeseries", [
            (f'driftline_performance{{{MV}, metric="count"}}', "{{view}}")]),
    ], MODEL_VARIABLES)  # fmt: skip


def slo() -> dict:
    slos = [("event_freshness", "Events processed within 60 s"),
            ("availability", "Worker availability")]  # fmt: skip
    panels: list[Panel] = [
        (f"{title}: SLI", "timeseries", [
            (f"1 - driftline:{name}_errors:ratio_rate5m", "5m"),
            (f"1 - driftline:{name}_errors:ratio_rate1h", "1h")])
        for name, title in slos
    ]  # fmt: skip
    panels += [
        ("Model latency_ms within its objective: SLI per model", "timeseries", [
            ("1 - driftline:model_latency_errors:ratio_rate5m", "{{model}} 5m")]),
        # The objective comes from each model's spec (or the worker's default).
        ("Model latency_ms p99 and objective", "timeseries", [
            ("histogram_quantile(0.99, sum by (le, model) "
             f"(rate(driftline_model_latency_ms_bucket[{RATE}])))", "{{model}} p99"),
            ("max by (model) (driftline_model_latency_objective_ms)",
             "{{model}} objective")]),
        ("Error budget left (30 days)", "bargauge", [
            (f"driftline:{name}_error_budget_remaining:ratio30d", name + " {{model}}")
            for name in ("event_freshness", "availability", "model_latency")]),
        ("Burn rate (1h; 14.4 pages, 6 tickets)", "timeseries", [
            (f"driftline:{name}_errors:ratio_rate1h / scalar(1 - "
             f'driftline:slo_objective{{slo="{name}"}})', name + " {{model}}")
            for name in ("event_freshness", "availability", "model_latency")]),
    ]  # fmt: skip
    return _dashboard("driftline-slo", "Driftline / SLOs", panels, [])


DASHBOARDS = {"overview": overview, "model": model, "labels": labels, "slo": slo}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + line if line else "" for line in text.splitlines())


def dashboards_configmap() -> str:
    """The dashboards as a ConfigMap Grafana's sidecar picks up (label grafana_dashboard)."""
    head = (
        "# Generated by deploy/generate.py (the dashboards): do not edit.\n"
        "# Grafana's dashboard sidecar (kube-prometheus-stack: sidecar.dashboards.enabled)\n"
        '# loads every ConfigMap labelled grafana_dashboard: "1".\n'
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: driftline-dashboards\n"
        "  labels:\n    app.kubernetes.io/name: driftline\n"
        '    grafana_dashboard: "1"\ndata:\n'
    )
    files = [
        f"  {name}.json: |\n{_block(render(build), 4)}\n" for name, build in DASHBOARDS.items()
    ]
    return head + "".join(files)


def rules_manifest() -> str:
    """deploy/prometheus/rules.yml as a PrometheusRule (Prometheus Operator)."""
    rules = "\n".join(line for line in RULES.read_text().splitlines() if not line.startswith("#"))
    return (
        "# Generated by deploy/generate.py from deploy/prometheus/rules.yml: do not edit.\n"
        "# The label `release` must match your Prometheus's ruleSelector (kube-prometheus-stack:\n"
        "# the Helm release name).\n"
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n"
        "  name: driftline\n  labels:\n    app.kubernetes.io/name: driftline\n"
        "    release: kube-prometheus-stack\nspec:\n" + _block(rules.strip("\n"), 2) + "\n"
    )


def outputs() -> dict[Path, str]:
    """Every generated file and its content."""
    files = {OUT / f"{name}.json": render(build) for name, build in DASHBOARDS.items()}
    files[K8S / "grafana-dashboards.yaml"] = dashboards_configmap()
    files[K8S / "prometheus-rules.yaml"] = rules_manifest()
    return files


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for path, text in outputs().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
