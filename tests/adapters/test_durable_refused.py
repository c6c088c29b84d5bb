"""A write refused for want of a grant: dropped like any permanent failure when nobody is
told, retried (never dropped) when the worker's ``refused`` hook is set, which stops the
worker. Against a real broker: tests/integration/test_secure_kafka.py."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from prometheus_client import CollectorRegistry, Counter

from streams.adapters import durable
from streams.adapters.durable import DurableWriter, Message


class RefusingTopic:
    """Refuses every send the first ``refusals`` times, then takes them."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.delivered: list[Message] = []

    def get_topic_name(self) -> str:
        return "alerts"

    async def send_all(self, messages: Sequence[Message]) -> list[Exception | None]:
        if self.refusals:
            self.refusals -= 1
            return [TopicAuthorizationFailedError("alerts") for _ in messages]
        self.delivered += messages
        return [None] * len(messages)


def writer(refused=None) -> DurableWriter:
    registry = CollectorRegistry()
    return DurableWriter(Counter("r", "", ["target"], registry=registry),
                         Counter("f", "", ["target", "reason"], registry=registry),
                         refused=refused)  # fmt: skip


MESSAGES: list[Message] = [(b"m", b"alert-1", None), (b"m", b"alert-2", None)]


@pytest.fixture(autouse=True)
def no_waits(monkeypatch):
    monkeypatch.setattr(durable, "_RETRY_DELAYS_S", (0.0,))


def test_with_nobody_told_a_refused_write_is_dropped_and_counted():
    topic, plain = RefusingTopic(refusals=2), writer()
    asyncio.run(plain.publish(topic, list(MESSAGES)))
    assert topic.delivered == []
    assert plain.failures.labels("alerts", "authorization")._value.get() == 2


def test_with_the_hook_set_it_is_told_and_the_write_retried_until_it_is_taken():
    told: list[tuple[str, str]] = []
    topic = RefusingTopic(refusals=2)
    hooked = writer(refused=lambda target, exc: told.append((target, type(exc).__name__)))
    asyncio.run(hooked.publish(topic, list(MESSAGES)))
    assert topic.delivered == MESSAGES
    assert told == [("alerts", "TopicAuthorizationFailedError")] * 4  # each refusal, each write
    assert hooked.failures.labels("alerts", "authorization")._value.get() == 0
