"""Where alerts and retraining requests leave: the ``AlertSink`` port, and one in memory.

The worker, ``replay`` and the tests all hand what the monitors produced to an ``AlertSink``;
what is behind it (a Kafka topic, a JSONL file, a webhook, a list) is the adapter's business.
The implementations and the one place that registers them by name are listed in
``streams/adapters/sinks.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from streams.core.alerts.alert import Alert
from streams.core.alerts.retrain_request import RetrainRequest

__all__ = ["AlertBatch", "AlertSink", "FanOutSink", "MemoryAlertSink"]


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """What one batch of events or labels produced, in the order it was produced."""

    alerts: tuple[Alert, ...] = ()
    retrain_requests: tuple[RetrainRequest, ...] = ()

    @classmethod
    def of(
        cls, alerts: Sequence[Alert] = (), retrain_requests: Sequence[RetrainRequest] = ()
    ) -> AlertBatch:
        return cls(tuple(alerts), tuple(retrain_requests))

    def __bool__(self) -> bool:
        return bool(self.alerts or self.retrain_requests)


@runtime_checkable
class AlertSink(Protocol):
    """Takes each batch's alerts and retraining requests.

    ``publish`` returns once the sink holds the batch as durably as it ever will: the
    worker saves its offsets only after that (the checkpoint order in
    ``streams/adapters/faust/ingestion.py``), so a sink that must not lose a record waits
    for it there. ``flush`` waits for anything still buffered; ``close`` flushes and frees
    what the sink holds. An empty batch is allowed and publishes nothing.
    """

    async def publish(self, batch: AlertBatch) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class MemoryAlertSink:
    """Keeps everything published, in order: for tests and embedded runs.

    >>> import asyncio
    >>> sink = MemoryAlertSink()
    >>> asyncio.run(sink.publish(AlertBatch()))
    >>> sink.alerts, sink.retrain_requests, sink.closed
    ([], [], False)
    """

    alerts: list[Alert] = field(default_factory=list)
    retrain_requests: list[RetrainRequest] = field(default_factory=list)
    closed: bool = False

    async def publish(self, batch: AlertBatch) -> None:
        if self.closed:
            raise RuntimeError("publish on a closed sink")
        self.alerts.extend(batch.alerts)
        self.retrain_requests.extend(batch.retrain_requests)

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        self.closed = True


class FanOutSink:
    """Several sinks, each batch handed to them in order: the worker puts its sink of record
    (Kafka) first, so a later sink (a webhook) sees a batch only once the first holds it,
    and a first sink that raises stops the batch before the others."""

    def __init__(self, sinks: Sequence[AlertSink]) -> None:
        self.sinks = tuple(sinks)

    async def publish(self, batch: AlertBatch) -> None:
        for sink in self.sinks:
            await sink.publish(batch)

    async def flush(self) -> None:
        for sink in self.sinks:
            await sink.flush()

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()
