"""Each alert POSTed as JSON to a webhook (Slack- or PagerDuty-style), best effort.

Delivery semantics in the worker (the Kafka topic stays the record of every alert):

- The webhook comes after the Kafka sink (``FanOutSink``): an alert is queued here only
  once the broker holds it, so a webhook outage never costs the Kafka copy.
- ``publish`` only queues: a background task posts, one alert at a time in order, so a
  slow or dead webhook never stalls the stream. The queue is bounded (``queue_size``);
  an alert that finds it full is dropped.
- A POST that times out, cannot connect, or gets 408, 429 or a 5xx is retried up to
  ``retries`` times after 0.5 s, 1 s, 2 s ... (capped at ``max_backoff_s``), each retry
  counted in ``driftline_retries_total{target="webhook"}``. Any other 4xx is not retried.
- An alert given up is logged at ERROR with its ``alert_id`` and counted in
  ``driftline_publish_failures_total{target="webhook",reason}``, reason one of
  ``rejected`` (4xx), ``retries_exhausted``, ``queue_full``, ``closed`` (still queued at
  ``close``, or published after it).
- So the webhook is at most once per processed batch; a batch replayed after a crash may
  post an alert again with the same ``alert_id`` (sent as the ``Idempotency-Key`` header
  too). A consumer that needs every alert reads the alerts topic (as
  ``examples/alerts_to_webhook.py`` does, committing after each POST).

The body: ``{"text": <one line for a chat channel>, "alert": <schemas/alert.json>}``. Only
alerts are posted (retraining requests are for a pipeline, read from their topic). The
standard library's ``urllib`` posts in a thread, so the sink needs no HTTP dependency.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

import orjson
from prometheus_client import Counter

from streams.core.alerts.alert import Alert
from streams.core.alerts.sink import AlertBatch

__all__ = ["WebhookAlertSink", "WebhookConfig", "webhook_text"]

logger = logging.getLogger(__name__)
_TARGET = "webhook"
# Answers worth another try: the server is busy or failing, not refusing this alert.
_RETRIABLE_STATUS = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Where and how hard to post; ``token`` goes out as ``Authorization: Bearer``."""

    url: str
    token: str | None = None
    timeout_s: float = 5.0
    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    queue_size: int = 1000

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"a webhook URL must be http(s), got {self.url!r}")
        if self.timeout_s <= 0 or self.retries < 0 or self.backoff_s < 0 or self.queue_size < 1:
            raise ValueError(
                "webhook timeout and queue size must be positive, retries not negative"
            )

    def __repr__(self) -> str:  # the URL may hold a token too (Slack's does): keep it out
        return f"WebhookConfig(timeout_s={self.timeout_s}, retries={self.retries})"


class _GiveUp(Exception):
    """A POST that must not be retried (a 4xx other than 408/429)."""


class WebhookAlertSink:
    """Queues each published alert for a background task that POSTs it (see the module
    docstring for what is retried, dropped and counted).

    Parameters
    ----------
    config
        URL, token, timeout, retries and queue size.
    retried, failed
        ``driftline_retries_total{target}`` and ``driftline_publish_failures_total
        {target,reason}``; their ``target`` label is ``webhook``.
    """

    def __init__(self, config: WebhookConfig, *, retried: Counter, failed: Counter) -> None:
        self.config = config
        self.retried = retried
        self.failed = failed
        self.posted = 0
        self._queue: asyncio.Queue[Alert] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def publish(self, batch: AlertBatch) -> None:
        """Queue the batch's alerts; never waits for the webhook, never raises."""
        for alert in batch.alerts:
            if self._closed:
                self._drop(alert, "closed")
                continue
            try:
                self._started().put_nowait(alert)
            except asyncio.QueueFull:
                self._drop(alert, "queue_full")

    async def flush(self) -> None:
        """Wait until every queued alert is posted or given up."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Stop posting; alerts still queued are counted as given up (``closed``)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while self._queue is not None and not self._queue.empty():
            self._drop(self._queue.get_nowait(), "closed")
            self._queue.task_done()

    def _started(self) -> asyncio.Queue[Alert]:
        # Made on first use: the queue and the task belong to the running loop.
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=self.config.queue_size)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._post_queued(self._queue), name="webhook")
        return self._queue

    async def _post_queued(self, queue: asyncio.Queue[Alert]) -> None:
        while True:
            alert = await queue.get()
            try:
                await self._deliver(alert)
            except asyncio.CancelledError:
                self._drop(alert, "closed")
                raise
            except Exception:  # a bug here must not end the task: log, count, go on
                logger.exception("posting alert %s to the webhook failed", alert.alert_id)
                self._drop(alert, "unexpected", log=False)
            finally:
                queue.task_done()

    async def _deliver(self, alert: Alert) -> None:
        config, body, last = self.config, _body(alert), ""
        for attempt in range(config.retries + 1):
            if attempt:
                self.retried.labels(_TARGET).inc()
                await asyncio.sleep(
                    min(config.backoff_s * 2 ** (attempt - 1), config.max_backoff_s)
                )
            try:
                await asyncio.to_thread(self._post, body, alert.alert_id)
            except _GiveUp as exc:
                self._drop(alert, "rejected", detail=str(exc))
                return
            except (OSError, urllib.error.URLError) as exc:  # HTTPError, timeouts, refusals
                last = repr(exc)
                continue
            self.posted += 1
            return
        self._drop(alert, "retries_exhausted", detail=last)

    def _post(self, body: bytes, alert_id: str) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": alert_id}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        request = urllib.request.Request(self.config.url, data=body, headers=headers,
                                         method="POST")  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 and exc.code not in _RETRIABLE_STATUS:
                raise _GiveUp(f"HTTP {exc.code}") from exc
            raise

    def _drop(self, alert: Alert, reason: str, *, detail: str = "", log: bool = True) -> None:
        self.failed.labels(_TARGET, reason).inc()
        if log:
            logger.error("webhook: gave up alert %s (%s %s/%s) for %s %s; the alerts topic has it",
                         alert.alert_id, alert.type, alert.model_id, alert.model_version,
                         reason, detail)  # fmt: skip


def webhook_text(alert: Alert) -> str:
    """One line for a chat channel."""
    feature = f"/{alert.feature}" if alert.feature else ""
    return (f"[{alert.status}] {alert.severity} {alert.type} "
            f"{alert.model_id}:{alert.model_version}{feature}: {alert.message}")  # fmt: skip


def _body(alert: Alert) -> bytes:
    return orjson.dumps({"text": webhook_text(alert), "alert": alert.to_dict()})
