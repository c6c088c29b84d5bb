"""The AlertSink port: the in-memory sink keeps batches in order, a fan-out hands each batch
to its sinks in order and stops at the first that fails."""

from __future__ import annotations

import asyncio

import pytest

from streams.core.alerts.alert import Trigger, state_quarantined
from streams.core.alerts.sink import AlertBatch, AlertSink, FanOutSink, MemoryAlertSink


def alert(n: int):
    return state_quarantined("m", "v1", Trigger(f"e{n}", 0, n, 1_000 * n), keys=1,
                             reason="test", stamp=n)  # fmt: skip


class Failing:
    async def publish(self, batch: AlertBatch) -> None:
        raise RuntimeError("broker down")

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


def test_memory_sink_keeps_every_batch_in_order_and_refuses_after_close():
    sink = MemoryAlertSink()
    assert isinstance(sink, AlertSink)
    first, second = AlertBatch.of([alert(1), alert(2)]), AlertBatch.of([alert(3)])
    asyncio.run(sink.publish(first))
    asyncio.run(sink.publish(second))
    assert [a.trigger.offset for a in sink.alerts] == [1, 2, 3]
    assert not AlertBatch() and first
    asyncio.run(sink.close())
    with pytest.raises(RuntimeError):
        asyncio.run(sink.publish(first))


def test_fan_out_hands_each_batch_on_in_order_and_stops_at_a_failure():
    seen: list[str] = []

    class Recording(MemoryAlertSink):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        async def publish(self, batch: AlertBatch) -> None:
            seen.append(self.name)
            await MemoryAlertSink.publish(self, batch)

    first, later = Recording("kafka"), Recording("webhook")
    asyncio.run(FanOutSink([first, later]).publish(AlertBatch.of([alert(1)])))
    assert seen == ["kafka", "webhook"] and first.alerts == later.alerts
    after_failure = MemoryAlertSink()
    with pytest.raises(RuntimeError):
        asyncio.run(FanOutSink([Failing(), after_failure]).publish(AlertBatch.of([alert(2)])))
    assert after_failure.alerts == [], "a later sink never sees what the first did not take"
