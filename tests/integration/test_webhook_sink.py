"""The webhook sink in a real worker (real Kafka, Redis and a local HTTP server): every alert
reaches the webhook after the alerts topic, through a webhook outage; a webhook that never
answers stalls nothing and costs no Kafka copy."""

from __future__ import annotations

import orjson
import pytest

from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig
from streams.stack.worker import WorkerProcess
from tests.adapters.test_alert_sinks import Webhook
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_for,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

EVENTS = 6_000
STREAM = StreamConfig(
    model_id="it-webhook",
    seed=21,
    scenarios=(Scenario(kind="variance", feature="x11", start=3_250, end=5_000, magnitude=2.0),),
)


def run_worker(stack_config, tmp_path, hook: Webhook, **webhook_env: str):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "2000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
        "DRIFTLINE_WEBHOOK_URL": hook.url,
        "DRIFTLINE_WEBHOOK_TOKEN": "hook-token",
        **webhook_env,
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    return settings, worker


def given_up(worker: WorkerProcess) -> float:
    return worker.metric_total(
        "driftline_publish_failures_total", target="webhook", reason="retries_exhausted"
    )


def test_every_alert_reaches_the_webhook_through_an_outage(stack_config, tmp_path):
    hook = Webhook(503, 503, 500, 200)  # fails three times, then recovers
    settings, worker = run_worker(stack_config, tmp_path, hook, DRIFTLINE_WEBHOOK_RETRIES="5")
    try:
        publish_stream(settings, STREAM, EVENTS)
        wait_until_processed(worker, EVENTS)
        kafka = [orjson.loads(r.value) for r in read_alerts(settings)]
        assert kafka, "the drift must raise alerts"
        wait_for(lambda: len(hook.requests) >= len(kafka) + 3, "the webhook retried")
        assert worker.metric_total("driftline_retries_total", target="webhook") == 3
    finally:
        assert worker.stop() == 0
        hook.stop()
    bodies = [orjson.loads(body) for _, body in hook.requests]
    posted = [b["alert"] for b in bodies[3:]]
    assert posted == kafka, "the same alerts, in the topic's order (one model: one partition)"
    assert bodies[0]["alert"] == kafka[0], "the failed posts were the first alert's retries"
    assert all(h["Authorization"] == "Bearer hook-token" for h, _ in hook.requests)


def test_a_webhook_that_never_answers_stalls_nothing(stack_config, tmp_path):
    hook = Webhook("hang")
    settings, worker = run_worker(stack_config, tmp_path, hook, DRIFTLINE_WEBHOOK_TIMEOUT_S="0.5",
                                  DRIFTLINE_WEBHOOK_RETRIES="1")  # fmt: skip
    try:
        publish_stream(settings, STREAM, EVENTS)
        wait_until_processed(worker, EVENTS)
        kafka = read_alerts(settings)
        assert kafka, "the alerts topic has every alert whatever the webhook does"
        wait_for(lambda: given_up(worker) == len(kafka), "the webhook given up on")
        assert worker.metric_total("driftline_alerts_total", model=STREAM.model_id) == len(kafka)
    finally:
        assert worker.stop() == 0
        hook.stop()
    assert len(hook.requests) == 2 * len(kafka), "each alert tried twice, then given up"
