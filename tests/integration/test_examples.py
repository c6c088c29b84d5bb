"""The examples in examples/, run as their users run them, against the real stack and worker:
a scikit-learn service logs every prediction, a CSV job sends their labels (joined by the
worker), and an alert consumer posts a drift stream's alerts to a webhook once each."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import orjson
import pytest

from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_until_processed,
)
from tests.integration.test_labels_end_to_end import wait_for_labels

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "examples"
REQUESTS = 300


def run_example(name: str, *args: str, env: dict, timeout_s: float = 120) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env, timeout=timeout_s,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def ask(port: int, features: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", method="POST",
                                     data=json.dumps({"features": features}).encode())  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def running_worker(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {"DRIFTLINE_LABEL_RETRY_S": "0.5"}
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    yield worker, env
    assert worker.stop() == 0


def test_the_service_logs_every_prediction_and_the_csv_job_labels_them(running_worker, tmp_path):
    worker, env = running_worker
    service = subprocess.Popen([sys.executable, str(EXAMPLES / "prediction_service.py"),
                                "--port", "0", "--model-id", "example-churn"], env=env,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port = int(service.stdout.readline().rsplit(":", 1)[1])
        answers = [ask(port, {"tenure": 1 + i % 60, "spend": 20 + i % 70, "tickets": i % 5})
                   for i in range(REQUESTS)]  # fmt: skip
    finally:
        service.terminate()
        tail = service.communicate(timeout=30)[0]
    assert service.returncode == 0 and f"delivered {REQUESTS}, dropped 0" in tail
    assert len({a["event_id"] for a in answers}) == REQUESTS
    wait_until_processed(worker, REQUESTS)
    assert worker.metric_total("driftline_events_processed_total", model="example-churn") == (
        REQUESTS
    )
    assert worker.metric_total("driftline_events_rejected_total") == 0

    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "model_id", "label"])
        writer.writerows([a["event_id"], "example-churn", a["prediction"]] for a in answers)
    assert f"sent {REQUESTS} labels: delivered {REQUESTS}, dropped 0" in run_example(
        "send_labels.py", str(labels), env=env
    )
    wait_for_labels(worker, "joined", REQUESTS)
    assert worker.metric_total("driftline_labels_total", outcome="rejected") == 0


class Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        Webhook.received.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


DRIFT = StreamConfig(model_id="example-drift", seed=5, scenarios=(
    Scenario(kind="abrupt", feature="x3", start=1_500, magnitude=2.0),))  # fmt: skip


def test_the_alert_consumer_posts_each_alert_of_a_drift_stream_once(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, DRIFT, 3_000)
        wait_until_processed(worker, 3_000)
        published = [orjson.loads(record.value) for record in read_alerts(settings)]
    finally:
        assert worker.stop() == 0
    assert any(a["type"] == "data_drift" and a["feature"] == "x3" for a in published)

    Webhook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        first = run_example("alerts_to_webhook.py", url, "--group", "hook",
                            "--idle-timeout", "5", env=env)  # fmt: skip
        again = run_example("alerts_to_webhook.py", url, "--group", "hook",
                            "--idle-timeout", "3", env=env)  # fmt: skip
    finally:
        server.shutdown()
    distinct = {a["alert_id"] for a in published}
    assert sorted(a["alert_id"] for a in Webhook.received) == sorted(distinct)
    assert f"posted {len(distinct)} alerts" in first
    assert "posted 0 alerts" in again  # committed: a second run of the group posts nothing
