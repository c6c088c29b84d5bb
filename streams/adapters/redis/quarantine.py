"""Malformed stored state: move it aside, count it, log it, say so in an alert.

The prediction and label services both meet stored state when a model version first comes
by; a value that does not parse or that the core refuses (``InvalidState``) must neither
crash the agent nor be met again after a restart, so it is renamed away and the monitor
starts fresh.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter

from streams.adapters.durable import DurableWriter
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core.alerts.alert import Alert, Trigger, state_quarantined
from streams.core.errors import InvalidState

__all__ = ["quarantine"]

logger = logging.getLogger(__name__)


async def quarantine(
    store: RedisMonitorStore,
    writer: DurableWriter,
    counter: Counter,
    key: tuple[str, str],
    error: InvalidState,
    trigger: Trigger,
) -> Alert:
    """Rename the model version's keys to ``:quarantined:``; return the ``internal`` alert.

    Logged once per key, with the key and the reason; the value is never logged.
    """
    model_id, model_version = key
    moved = await writer.until_done("redis", lambda: store.quarantine(model_id, model_version))
    for item in moved:
        counter.labels(item.kind).inc()
        logger.warning("stored %s %s is invalid (%s): moved to %s; monitoring restarts",
                       item.kind, item.key, error, item.moved_to)  # fmt: skip
    return state_quarantined(
        model_id, model_version, trigger, keys=len(moved), reason=str(error),
        stamp=int(time.time()),
    )  # fmt: skip
