"""Writes a batch must finish before its offsets are acked: retried while the error passes.

Acking a batch whose dead letters, alerts or state were not written would lose them, so an
outage stalls the stream (visible in /health, ``driftline_consumer_lag`` and
``driftline_retries_total``) instead. A permanent error (``failures.is_retriable``) is not
retried: a record gets its ``rescue`` (a dead letter's truncated copy) or, if it has none or
that fails too, is logged at ERROR and counted in ``driftline_publish_failures_total``.
But a write refused for want of a grant (an ACL) is not dropped when the writer has a
``refused`` hook (the worker's: it stops the worker, ``faust/access_refused.py``): it is
retried meanwhile, so its batch is never acked.
An outage is logged once when it starts and once when it ends, with its count of retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

import orjson
from prometheus_client import Counter

from streams.adapters.failures import failure_reason
from streams.core.alerts.alert import Alert

__all__ = ["BatchTopic", "DurableWriter", "Message", "Rescue", "Topic", "alert_message"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
_RETRY_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)


#: key, value, headers of one record to publish.
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]] | None]


class Topic(Protocol):
    """What ``DurableWriter`` uses of a Faust topic (the dead letters, alerts): one record
    at a time, each a promise (Faust's ``FutureMessage``) published, then awaited. The
    promise, not the producer's future that ``Topic.send`` returns: Faust sets a failed
    record's error on both, and a promise nobody awaits logs it, traceback and all, as
    "exception was never retrieved" when it is collected."""

    def get_topic_name(self) -> str: ...

    def as_future_message(
        self,
        key: bytes | None = None,
        value: bytes | None = None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]: ...

    async def publish_message(self, fut: Any, wait: bool = False) -> Awaitable[Any]: ...


@runtime_checkable
class BatchTopic(Protocol):
    """A topic that sends a whole chunk and reports each record's error at once: the routing
    stage's ``ProducedTopic``, on the hot path."""

    def get_topic_name(self) -> str: ...

    async def send_all(self, messages: Sequence[Message]) -> list[Exception | None]: ...


#: What to publish instead of a message that failed permanently (None: nothing).
Rescue = Callable[[Message, BaseException], Message | None]


class DurableWriter:
    """Retries each write while its error is retriable, counting retries per target.

    Parameters
    ----------
    retries
        ``driftline_retries_total{target}``.
    failures
        ``driftline_publish_failures_total{target,reason}``: writes given up as permanent.
    """

    def __init__(
        self,
        retries: Counter,
        failures: Counter,
        *,
        refused: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.retries = retries
        self.failures = failures
        #: Told of each write refused for want of a grant (the worker then stops: an ACL is
        #: an operator's to fix); the write is retried meanwhile, never dropped. None: such
        #: a write is permanent like any other.
        self.refused = refused
        self._ongoing: list[_Outage] = []

    def failing(self, *, for_s: float = 0.0) -> dict[str, tuple[float, str]]:
        """The targets whose writes have failed for ``for_s`` seconds or more with none of
        them done since: for how long, and the last error (``/health`` reports them: a Redis
        that answers PING may refuse every write, out of memory)."""
        now = time.monotonic()
        found: dict[str, tuple[float, str]] = {}
        for outage in self._ongoing:
            age = now - outage.started
            if age >= for_s and age > found.get(outage.target, (-1.0, ""))[0]:
                found[outage.target] = (age, repr(outage.error))
        return found

    async def publish(
        self,
        topic: Topic | BatchTopic,
        messages: list[Message],
        *,
        rescue: Rescue | None = None,
        in_order: bool = False,
    ) -> None:
        """Send ``messages`` and wait until the broker has each (or its rescue), or gave up.

        ``in_order``: after a retriable failure, send again every message from the first
        failed one on, delivered or not, so that each partition receives the messages (again)
        in their order; the copies are for the reader to skip (the routing stage's fence).
        """
        target = topic.get_topic_name()
        pending: list[tuple[Message, Rescue | None]] = [(m, rescue) for m in messages]
        with _Outage(target, self._ongoing) as outage:
            await self._publish(topic, target, pending, outage, in_order)

    async def _publish(
        self,
        topic: Topic | BatchTopic,
        target: str,
        pending: list[tuple[Message, Rescue | None]],
        outage: _Outage,
        in_order: bool,
    ) -> None:
        while pending:
            errors = await _send_all(topic, [message for message, _ in pending])
            again: list[tuple[Message, Rescue | None]] = []
            retrying: BaseException | None = None
            for (message, rescuer), exc in zip(pending, errors, strict=True):
                if exc is None:
                    if in_order and retrying is not None:
                        again.append((message, rescuer))
                    continue
                if self._retried(target, exc, reason := failure_reason(exc)):
                    again.append((message, rescuer))
                    retrying = exc
                    continue
                replacement = self._give_up(target, exc, reason, message, rescuer)
                if replacement is not None:
                    again.append((replacement, None))
            if retrying is not None:
                self.retries.labels(target).inc()
                await asyncio.sleep(outage.failed(retrying))
            pending = again
        outage.ended()

    async def until_done(self, target: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        """``operation()``'s result, retried while it fails retriably; a permanent error raises."""
        with _Outage(target, self._ongoing) as outage:
            while True:
                try:
                    result = await operation()
                except Exception as exc:
                    reason = failure_reason(exc)
                    if not self._retried(target, exc, reason):
                        self.failures.labels(target, reason).inc()
                        logger.error("writing to %s failed permanently (%s): %r",
                                     target, reason, exc)  # fmt: skip
                        raise
                    self.retries.labels(target).inc()
                    await asyncio.sleep(outage.failed(exc))
                else:
                    outage.ended()
                    return result

    def _retried(self, target: str, exc: BaseException, reason: str) -> bool:
        """Whether to write again: a retriable error, or a refusal told to ``refused``."""
        if reason == "authorization" and self.refused is not None:
            self.refused(target, exc)
            return True
        return reason == "retriable"

    def _give_up(
        self, target: str, exc: BaseException, reason: str, message: Message, rescue: Rescue | None
    ) -> Message | None:
        self.failures.labels(target, reason).inc()
        replacement = rescue(message, exc) if rescue is not None else None
        size = len(message[1] or b"")
        if replacement is None:
            logger.error("DROPPED a %d-byte record for %s: it failed permanently (%s): %r",
                         size, target, reason, exc)  # fmt: skip
        else:
            logger.error("a %d-byte record for %s failed permanently (%s): %r; sending a "
                         "%d-byte copy instead", size, target, reason, exc,
                         len(replacement[1] or b""))  # fmt: skip
        return replacement


class _Outage:
    """One line when writes to a target start failing, one when they succeed again; listed
    in ``ongoing`` (the writer's) from the first failure until the writing ends."""

    def __init__(self, target: str, ongoing: list[_Outage]) -> None:
        self.target = target
        self.attempts = 0
        self.started = 0.0
        self.error: BaseException | None = None
        self._ongoing = ongoing

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self in self._ongoing:  # a success, a permanent error, or a cancellation
            self._ongoing.remove(self)

    def failed(self, exc: BaseException) -> float:
        """Count a failure; the delay before the next attempt."""
        if self.attempts == 0:
            self.started = time.monotonic()
            self._ongoing.append(self)
            logger.error("writing to %s failed, retrying until it succeeds: %r", self.target, exc)
        self.attempts += 1
        self.error = exc
        return _RETRY_DELAYS_S[min(self.attempts - 1, len(_RETRY_DELAYS_S) - 1)]

    def ended(self) -> None:
        if self.attempts:
            logger.warning("writing to %s succeeded again after %d failed attempts over %.1fs",
                           self.target, self.attempts, time.monotonic() - self.started)  # fmt: skip


async def _send_all(
    topic: Topic | BatchTopic, messages: list[Message]
) -> list[BaseException | None]:
    """Each message's error, or None once the broker has it; sent in order."""
    if isinstance(topic, BatchTopic):
        return list(await topic.send_all(messages))
    deliveries: list[Awaitable[object] | BaseException] = []
    for key, value, headers in messages:
        promise = topic.as_future_message(key, value, headers=headers)
        try:
            await topic.publish_message(promise)
        except Exception as exc:  # refused before it left: too large for the producer
            deliveries.append(exc)
        else:
            deliveries.append(promise)
    waiting = [d for d in deliveries if not isinstance(d, BaseException)]
    results = iter(await asyncio.gather(*waiting, return_exceptions=True))
    outcome: list[BaseException | None] = []
    for delivery in deliveries:
        result = delivery if isinstance(delivery, BaseException) else next(results)
        if isinstance(result, asyncio.CancelledError):
            raise result  # shutting down: not a failure of the record
        outcome.append(result if isinstance(result, BaseException) else None)
    return outcome


def alert_message(alert: Alert) -> Message:
    """The alerts-topic record of ``alert``, keyed by model so a model's alerts stay in order."""
    logger.info("alert %s %s %s/%s %s", alert.status, alert.type, alert.model_id,
                alert.feature, alert.message)  # fmt: skip
    return alert.model_id.encode(), orjson.dumps(alert.to_dict()), None
