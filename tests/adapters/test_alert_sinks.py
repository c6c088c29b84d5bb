"""The adapters' alert sinks: JSON lines as replay writes them, the webhook against a real
local HTTP server (answering, failing then recovering, refusing, never answering), and the
worker's sink assembled from settings."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams.adapters.files.jsonl_sink import JsonlAlertSink
from streams.adapters.http.webhook_sink import WebhookAlertSink, WebhookConfig
from streams.adapters.kafka.alert_sink import KafkaAlertSink
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.sinks import EXTRA_SINKS, worker_sink
from streams.core.alerts.alert import Window
from streams.core.alerts.retrain_request import RetrainRequest
from streams.core.alerts.sink import AlertBatch, FanOutSink
from streams.settings import Settings
from tests.core.test_alert_sink import alert


class Webhook:
    """A real HTTP server on a free port; answers each POST with the next scripted status
    (the last one repeats); ``"hang"`` holds the request until the test ends."""

    def __init__(self, *script: int | str) -> None:
        self.script = list(script)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.released = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                step = hook.script.pop(0) if len(hook.script) > 1 else hook.script[0]
                hook.requests.append((dict(self.headers), body))
                if step == "hang":
                    hook.released.wait(10)
                    return
                self.send_response(int(step))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[type[Webhook]]:
    started: list[Webhook] = []

    def start(*script: int | str) -> Webhook:
        started.append(Webhook(*script))
        return started[-1]

    yield start  # type: ignore[misc]
    for hook in started:
        hook.stop()


def metrics() -> tuple[CollectorRegistry, IngestMetrics]:
    registry = CollectorRegistry()
    return registry, IngestMetrics(registry)


def count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, {"target": "webhook", **labels}) or 0.0


def sink_for(url: str, ingest: IngestMetrics, **options) -> WebhookAlertSink:
    config = WebhookConfig(url, **{"timeout_s": 0.3, "retries": 3, "backoff_s": 0.01, **options})
    return WebhookAlertSink(config, retried=ingest.retries, failed=ingest.publish_failures)


def test_each_alert_is_posted_in_order_with_its_id_and_token(webhook):
    hook, (registry, ingest) = webhook(200), metrics()
    sink = sink_for(hook.url, ingest, token="t0ken")
    alerts = [alert(1), alert(2)]

    async def run() -> None:
        await sink.publish(AlertBatch.of(alerts))
        await sink.flush()
        await sink.close()

    asyncio.run(run())
    assert [orjson.loads(body)["alert"] for _, body in hook.requests] == [
        a.to_dict() for a in alerts
    ]
    headers, body = hook.requests[0]
    assert headers["Authorization"] == "Bearer t0ken"
    assert headers["Idempotency-Key"] == alerts[0].alert_id
    assert headers["Content-Type"] == "application/json"
    assert orjson.loads(body)["text"].startswith("[firing] warning internal m:v1: stored state")
    assert sink.posted == 2 and count(registry, "driftline_retries_total") == 0


def test_a_failing_server_is_retried_until_it_recovers(webhook):
    hook, (registry, ingest) = webhook(500, 503, 429, 200), metrics()
    sink = sink_for(hook.url, ingest)

    async def run() -> None:
        await sink.publish(AlertBatch.of([alert(1)]))
        await sink.flush()

    asyncio.run(run())
    assert len(hook.requests) == 4 and sink.posted == 1
    assert count(registry, "driftline_retries_total") == 3
    assert (
        registry.get_sample_value(
            "driftline_publish_failures_total", {"target": "webhook", "reason": "retries_exhausted"}
        )
        is None
    )


def test_a_refusal_is_not_retried_and_is_counted(webhook):
    hook, (registry, ingest) = webhook(400), metrics()
    sink = sink_for(hook.url, ingest)

    async def run() -> None:
        await sink.publish(AlertBatch.of([alert(1), alert(2)]))
        await sink.flush()

    asyncio.run(run())
    assert len(hook.requests) == 2 and sink.posted == 0
    assert count(registry, "driftline_publish_failures_total", reason="rejected") == 2
    assert count(registry, "driftline_retries_total") == 0


def test_a_server_that_never_answers_neither_stalls_the_stream_nor_posts_forever(webhook):
    hook, (registry, ingest) = webhook("hang"), metrics()
    sink = sink_for(hook.url, ingest, timeout_s=0.2, retries=2)

    async def run() -> tuple[float, float]:
        started = time.monotonic()
        await sink.publish(AlertBatch.of([alert(1)]))
        published = time.monotonic() - started
        await asyncio.wait_for(sink.flush(), timeout=5)
        return published, time.monotonic() - started

    published, given_up = asyncio.run(run())
    assert published < 0.05, "publish only queues"
    assert 0.6 <= given_up < 5, "three attempts of 0.2 s each, then given up"
    assert len(hook.requests) == 3
    assert count(registry, "driftline_retries_total") == 2
    assert count(registry, "driftline_publish_failures_total", reason="retries_exhausted") == 1


def test_unreachable_url_full_queue_and_close_are_counted_not_raised():
    registry, ingest = metrics()
    sink = sink_for("http://127.0.0.1:9/nothing-listens", ingest, queue_size=1, retries=0)

    async def run() -> None:
        await sink.publish(AlertBatch.of([alert(1), alert(2), alert(3)]))
        await sink.close()  # before the task took the queued one
        await sink.publish(AlertBatch.of([alert(4)]))

    asyncio.run(run())
    assert count(registry, "driftline_publish_failures_total", reason="queue_full") == 2
    assert count(registry, "driftline_publish_failures_total", reason="closed") == 2


def test_a_webhook_url_must_be_http():
    with pytest.raises(ValueError, match="http"):
        WebhookConfig("ftp://example")
    assert "secret" not in repr(WebhookConfig("https://hooks.example/secret"))


def test_jsonl_sink_writes_replays_lines():
    alerts_out, retrain_out = io.BytesIO(), io.BytesIO()
    request = RetrainRequest("m", "v1", 4, (), {"accuracy": 0.5}, {"accuracy": 0.9},
                             Window(1, 2, 3))  # fmt: skip
    sink = JsonlAlertSink(alerts_out, retrain_out)
    asyncio.run(sink.publish(AlertBatch.of([alert(1), alert(2)], [request])))
    asyncio.run(sink.close())
    assert alerts_out.getvalue() == b"".join(
        orjson.dumps(a.to_dict()) + b"\n" for a in (alert(1), alert(2))
    )
    assert retrain_out.getvalue() == orjson.dumps(request.to_dict()) + b"\n"
    asyncio.run(JsonlAlertSink(io.BytesIO()).publish(AlertBatch.of([], [request])))  # dropped


def test_the_worker_sink_is_kafka_first_then_each_registered_sink_turned_on():
    _, ingest = metrics()
    topics = {"alerts": object(), "retrain": object()}  # only stored: nothing is sent here
    plain = worker_sink(Settings(), metrics=ingest, **topics)  # type: ignore[arg-type]
    assert isinstance(plain, KafkaAlertSink)
    hooked = worker_sink(Settings(webhook_url="https://hooks.example/x"), metrics=ingest,
                         **topics)  # type: ignore[arg-type]  # fmt: skip
    assert isinstance(hooked, FanOutSink)
    assert [type(s) for s in hooked.sinks] == [KafkaAlertSink, WebhookAlertSink]
    assert list(EXTRA_SINKS) == ["webhook"]


@pytest.mark.parametrize(
    "options",
    [{"webhook_url": "ftp://x"}, {"webhook_timeout_s": 0}, {"webhook_retries": -1}],
)
def test_bad_webhook_settings_are_refused(options):
    with pytest.raises(ValueError, match="DRIFTLINE_WEBHOOK"):
        Settings(**options)


def test_the_webhook_url_is_never_printed():
    settings = Settings.from_env({"DRIFTLINE_WEBHOOK_URL": "https://hooks.example/T0/B0/s3cr3t"})
    assert settings.webhook_url.endswith("s3cr3t") and "s3cr3t" not in repr(settings)
