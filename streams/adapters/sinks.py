"""The worker's alert sink, assembled from settings: Kafka first, then every extra sink on.

Adding a sink is one module (a class with ``publish(AlertBatch)``, ``flush()`` and
``close()``, see ``streams/core/alerts/sink.py``) plus one line in ``EXTRA_SINKS`` below: a
factory that returns the sink, or None when the settings leave it off. Extra sinks receive
each batch only after the Kafka sink has it durably (``FanOutSink`` keeps the order), so
they must not raise or wait long: queue and post in the background, as the webhook does.
``replay`` writes JSON lines instead (``files/jsonl_sink.py``); tests use
``MemoryAlertSink``.
"""

from __future__ import annotations

from collections.abc import Callable

import faust

from streams.adapters.durable import DurableWriter
from streams.adapters.http.webhook_sink import WebhookAlertSink, WebhookConfig
from streams.adapters.kafka.alert_sink import KafkaAlertSink
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.core.alerts.sink import AlertSink, FanOutSink
from streams.settings import Settings

__all__ = ["EXTRA_SINKS", "worker_sink"]

SinkFactory = Callable[[Settings, IngestMetrics], AlertSink | None]


def _webhook(settings: Settings, metrics: IngestMetrics) -> AlertSink | None:
    if not settings.webhook_url:
        return None
    config = WebhookConfig(settings.webhook_url, token=settings.webhook_token,
                           timeout_s=settings.webhook_timeout_s,
                           retries=settings.webhook_retries)  # fmt: skip
    return WebhookAlertSink(config, retried=metrics.retries, failed=metrics.publish_failures)


#: The sinks after Kafka, by name. Register a new sink here (one line).
EXTRA_SINKS: dict[str, SinkFactory] = {
    "webhook": _webhook,
}


def worker_sink(
    settings: Settings,
    *,
    alerts: faust.TopicT,
    retrain: faust.TopicT,
    metrics: IngestMetrics,
    writer: DurableWriter | None = None,
) -> AlertSink:
    """The Kafka topics' sink (written through ``writer``: the worker's, or one of its own),
    followed by each extra sink the settings turn on."""
    writer = writer or DurableWriter(metrics.retries, metrics.publish_failures)
    kafka = KafkaAlertSink(writer, alerts, retrain)
    made = (make(settings, metrics) for make in EXTRA_SINKS.values())
    extras = [sink for sink in made if sink is not None]
    return FanOutSink([kafka, *extras]) if extras else kafka
