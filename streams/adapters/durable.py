"""Writes a batch must finish before its offsets are acked: retried until they succeed.

Acking a batch whose dead letters, alerts or state were not written would lose them, so an
outage stalls the stream (visible in /health and ``driftline_retries_total``) instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import faust
import orjson
from prometheus_client import Counter

from streams.core.alert import Alert

__all__ = ["DurableWriter", "Message", "alert_message"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)

#: key, value, headers of one record to publish.
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]] | None]


class DurableWriter:
    """Retries each write until it succeeds, counting retries per target in ``retries``."""

    def __init__(self, retries: Counter) -> None:
        self.retries = retries

    async def publish(self, topic: faust.TopicT, messages: list[Message]) -> None:
        """Send ``messages`` and wait until the broker has every one."""

        async def send_all() -> None:
            deliveries = [
                await topic.send(key=key, value=value, headers=headers)
                for key, value, headers in messages
            ]
            await asyncio.gather(*deliveries)

        await self.until_done(topic.get_topic_name(), send_all)

    async def until_done(self, target: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        attempt = 0
        while True:
            try:
                return await operation()
            except Exception as exc:
                delay = _RETRY_DELAYS_S[min(attempt, len(_RETRY_DELAYS_S) - 1)]
                attempt += 1
                self.retries.labels(target).inc()
                logger.error("writing to %s failed (attempt %d), retrying in %.1fs: %r",
                             target, attempt, delay, exc)  # fmt: skip
                await asyncio.sleep(delay)


def alert_message(alert: Alert) -> Message:
    """The alerts-topic record of ``alert``, keyed by model so a model's alerts stay in order."""
    logger.info("alert %s %s %s/%s %s", alert.status, alert.type, alert.model_id,
                alert.feature, alert.message)  # fmt: skip
    return alert.model_id.encode(), orjson.dumps(alert.to_dict()), None
