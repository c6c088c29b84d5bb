"""Every query of every dashboard panel returns data from a real Prometheus scraping a live
worker, and the drift alerting rule fires.

The worker processes a simulated stream with a drift (and an anomaly burst), bad records
and delayed labels (some wrong, so performance alerts come too); Prometheus (Debian's,
installed by streams/stack/debian.py) scrapes it every second and evaluates
deploy/prometheus/rules.yml. Grafana itself is not here: the panel queries are what can
break, so they are what is run, with the template variables resolved the way Grafana does
(``label_values``).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import orjson
import pytest

from streams.adapters.kafka.records import publish
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.contract.spec_inference import SpecInference
from streams.core.labels.fairness import FairnessPolicy
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, generate_events, keyed_labels, raw_records
from streams.stack.prometheus import PrometheusServer
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
EVENTS, DRIFT_AT = 3_000, 1_500
STREAM = StreamConfig(
    model_id="it-prom",
    seed=17,
    scenarios=(
        Scenario(kind="abrupt", feature="x0", start=DRIFT_AT, magnitude=3.0),
        Scenario(kind="anomaly_burst", start=2_000, duration=200, magnitude=8.0),
    ),
)
#: The spec's latency objective: under the simulation's median of 8 ms, so many are over.
LATENCY_OBJECTIVE_MS = 6.0
#: Grafana's own variables, as the panels' time range would set them.
BUILTINS = {"__rate_interval": "5m", "__interval": "15s", "__range": "5m"}


def _write_spec(folder: Path) -> Path:
    """The stream's spec as inferred from its events, plus a fairness policy on its
    ``group`` attribute (so the fairness metrics exist)."""
    inference = SpecInference(STREAM.model_id, events_needed=200)
    decode = Ingestor(EventDecoder(), SpecRegistry(warmup_events=200)).ingest
    for chunk in generate_events(STREAM, 200):
        for event in decode(raw_records(STREAM, chunk)).accepted:
            inference.observe(event)
    spec = replace(
        inference.spec(),
        fairness=(FairnessPolicy("group", "A"),),
        latency_objective_ms=LATENCY_OBJECTIVE_MS,
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "it-prom.json").write_bytes(orjson.dumps(spec.to_dict()))
    return folder


def _labels(start: int, count: int, flip_rate: float) -> list[tuple[bytes, bytes]]:
    chunks = generate_events(STREAM, count, offset=start)
    return [r for c in chunks for r in keyed_labels(STREAM, c, flip_rate=flip_rate)]


@pytest.fixture(scope="module")
def live(stack_config, tmp_path_factory):
    """A worker that has processed the stream, and a Prometheus that has scraped it."""
    home = tmp_path_factory.mktemp("prometheus")
    token = uuid.uuid4().hex
    env = isolated_env(stack_config, home / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "250",
        "DRIFTLINE_LABEL_RETRY_S": "0.5",
        # The stream's first 1,000 labels are right (the default, 10,000, is more than it has).
        "DRIFTLINE_PERFORMANCE_REFERENCE_LABELS": "1000",
        "DRIFTLINE_WEB_TOKEN": token,
        "DRIFTLINE_SPECS_DIR": str(_write_spec(home / "specs")),
    }
    settings = Settings.from_env(env)
    web_port = free_port()
    worker = WorkerProcess(env, web_port=web_port, log_path=home / "worker.log")
    rules = ROOT / "deploy" / "prometheus" / "rules.yml"
    target = f"127.0.0.1:{web_port}"
    prometheus = PrometheusServer(
        home / "server", port=free_port(), rules=[rules], targets=[target], bearer_token=token
    )
    started = time.time()
    worker.start()
    prometheus.start()
    try:
        # Its discovery hands targets over only every 5 s: see a scrape before the stream,
        # so that the counters' rates see them move.
        _wait(lambda: bool(prometheus.query("up == 1")), what="the first scrape")
        publish_stream(settings, STREAM, EVENTS)
        key = STREAM.model_id.encode()
        publish(settings.kafka, settings.topic_predictions,
                [(key, b"not json"), (key, b"[]"), (key, b'{"model_id": "it-prom"}')])  # fmt: skip
        wait_until_processed(worker, EVENTS)
        publish(settings.kafka, settings.topic_labels,
                _labels(0, 1_000, 0.0) + _labels(1_000, EVENTS - 1_000, 0.4))  # fmt: skip
        _wait(lambda: worker.metric_total("driftline_labels_total", outcome="joined") >= EVENTS)
        _wait(lambda: _scraped(prometheus, EVENTS), what="Prometheus to scrape every event")
        scrapes = _scrapes(prometheus)
        _wait(lambda: _scrapes(prometheus) >= scrapes + 3, what="three more scrapes")
        yield prometheus, started
    finally:
        prometheus.stop()
        assert worker.stop() == 0


def _wait(done, *, timeout_s: float = 60.0, what: str = "the worker") -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _scraped(prometheus: PrometheusServer, events: int) -> bool:
    result = prometheus.query("sum(driftline_events_processed_total)")
    return bool(result) and float(result[0]["value"][1]) >= events


def _scrapes(prometheus: PrometheusServer) -> int:
    result = prometheus.query("count_over_time(up[10m])")
    return int(float(result[0]["value"][1])) if result else 0


def test_the_drift_alerting_rule_fires(live):
    prometheus, _ = live

    def firing() -> list[dict]:
        return [a for a in prometheus.alerts()
                if a["labels"]["alertname"] == "DriftlineDriftAlertFiring"
                and a["state"] == "firing"]  # fmt: skip

    _wait(lambda: bool(firing()), timeout_s=30, what="DriftlineDriftAlertFiring")
    labels = firing()[0]["labels"]
    assert labels["model"] == STREAM.model_id and labels["type"].endswith("drift")


def test_the_latency_slo_counts_the_events_over_the_specs_objective(live):
    prometheus, _ = live
    model = f'{{model="{STREAM.model_id}"}}'
    (objective,) = prometheus.query(f"driftline_model_latency_objective_ms{model}")
    assert float(objective["value"][1]) == LATENCY_OBJECTIVE_MS
    latencies = np.concatenate([c.latency_ms for c in generate_events(STREAM, EVENTS)])
    (over,) = prometheus.query(f"sum(driftline_model_latency_over_objective_total{model})")
    assert float(over["value"][1]) == np.count_nonzero(latencies > LATENCY_OBJECTIVE_MS)


def dashboards() -> dict[str, dict]:
    folder = ROOT / "deploy" / "grafana" / "dashboards"
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def resolve(prometheus: PrometheusServer, dashboard: dict) -> dict[str, str]:
    """Each query variable's value, in order, as Grafana resolves them: ``label_values``,
    taking this test's model, version and drifted feature, which must be listed."""
    wanted = {"model": STREAM.model_id, "version": STREAM.model_version, "feature": "x0"}
    values = dict(BUILTINS)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match, variable["query"]
        listed = prometheus.label_values(match[2], substitute(match[1], values))
        assert wanted[variable["name"]] in listed, (variable["name"], listed)
        values[variable["name"]] = wanted[variable["name"]]
    return values


def substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m[1]], text)


@pytest.mark.parametrize("name", ["overview", "model", "labels", "slo"])
def test_every_panel_query_returns_data(live, name):
    prometheus, started = live
    _wait(lambda: bool(prometheus.query("ALERTS")), timeout_s=30, what="an alert")
    dashboard = dashboards()[name]
    values = resolve(prometheus, dashboard)
    queries = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    annotations = [(a["name"], a["expr"]) for a in dashboard["annotations"]["list"]]
    empty = []
    for title, expr in queries:
        if not prometheus.query(substitute(expr, values)):
            empty.append((title, expr))
    for title, expr in annotations:  # Grafana runs these over the time range shown
        if not prometheus.query_range(substitute(expr, values), started, time.time()):
            empty.append((title, expr))
    assert not empty, empty
