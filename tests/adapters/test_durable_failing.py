"""``DurableWriter.failing``: the targets whose writes keep failing, for ``/health`` (a Redis
that answers PING may still refuse every write). Against a real Redis refusing writes:
tests/integration/test_redis_refuses_writes.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import CollectorRegistry, Counter

from streams.adapters import durable
from streams.adapters.durable import DurableWriter, Message


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(durable, "_RETRY_DELAYS_S", (0.01,))


def writer() -> DurableWriter:
    registry = CollectorRegistry()
    return DurableWriter(Counter("r", "", ["target"], registry=registry),
                         Counter("f", "", ["target", "reason"], registry=registry))  # fmt: skip


class Flaky:
    """Fails with ``errors`` in turn, then waits for ``allowed`` and succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.allowed = asyncio.Event()
        self.failed_all = asyncio.Event()

    async def __call__(self) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.failed_all.set()
        await self.allowed.wait()
        return "done"


def test_a_target_is_failing_from_its_first_failure_until_a_write_succeeds():
    async def scenario():
        plain = writer()
        flaky = Flaky(ConnectionError("refused"), ConnectionError("OOM command not allowed"))
        task = asyncio.create_task(plain.until_done("redis", flaky))
        await flaky.failed_all.wait()
        during, long_only = plain.failing(), plain.failing(for_s=60)
        flaky.allowed.set()
        return during, long_only, await task, plain.failing()

    during, long_only, result, after = asyncio.run(scenario())
    assert during.keys() == {"redis"}
    age, error = during["redis"]
    assert age >= 0 and error == "ConnectionError('OOM command not allowed')"
    assert long_only == {}, "failing for less than a minute"
    assert (result, after) == ("done", {})


def test_a_write_given_up_as_permanent_leaves_its_target_failing_no_longer():
    async def scenario():
        plain = writer()
        with pytest.raises(ValueError):
            await plain.until_done("redis", Flaky(ConnectionError("down"), ValueError("bad")))
        return plain.failing()

    assert asyncio.run(scenario()) == {}


class SlowTopic:
    """Times out every send until ``allowed``."""

    def __init__(self) -> None:
        self.allowed = asyncio.Event()
        self.tried = asyncio.Event()

    def get_topic_name(self) -> str:
        return "alerts"

    async def send_all(self, messages: Sequence[Message]) -> list[Exception | None]:
        if not self.allowed.is_set():
            self.tried.set()
            return [KafkaTimeoutError() for _ in messages]
        return [None] * len(messages)


def test_a_topic_that_times_out_is_failing_until_it_takes_the_records():
    async def scenario():
        plain, topic = writer(), SlowTopic()
        task = asyncio.create_task(plain.publish(topic, [(b"k", b"v", None)]))
        await topic.tried.wait()
        await asyncio.sleep(0.05)
        during = plain.failing()
        topic.allowed.set()
        await task
        return during, plain.failing()

    during, after = asyncio.run(scenario())
    assert during.keys() == {"alerts"} and "KafkaTimeoutError" in during["alerts"][1]
    assert after == {}
