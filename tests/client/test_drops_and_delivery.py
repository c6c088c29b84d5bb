"""The drop policy and background delivery, with a stand-in producer (no broker here: the
real one is in tests/client/test_kafka_down.py, tests/integration/test_examples.py and, on a
broker that enforces ACLs, tests/integration/test_secure_kafka.py)."""

from __future__ import annotations

import logging
import threading

import pytest
from confluent_kafka import KafkaError

from streams.client.delivery import BackgroundProducer
from streams.client.drops import DropCounter
from streams.client.seen_ids import SeenIds


class StandInProducer:
    """librdkafka's contract in miniature: a bounded queue; reports only through poll()."""

    def __init__(self, config: dict, *, capacity: int = 3, fail: int | None = None) -> None:
        self.config, self.capacity, self.fail = config, capacity, fail
        self.queue: list = []
        self.lock = threading.Lock()

    def produce(self, topic, *, value, key, on_delivery):
        with self.lock:
            if len(self.queue) >= self.capacity:
                raise BufferError("Local: Queue full")
            self.queue.append((on_delivery, topic))

    def poll(self, timeout):
        with self.lock:
            done, self.queue = self.queue, []
        for report, topic in done:
            report(None if self.fail is None else KafkaError(self.fail), Message(topic))
        threading.Event().wait(min(timeout, 0.01))
        return len(done)

    def flush(self, timeout):
        self.poll(0)
        return len(self.queue)

    def __len__(self):
        return len(self.queue)


class Message:
    def __init__(self, topic: str) -> None:
        self._topic = topic

    def topic(self) -> str:
        return self._topic


def producer(**options) -> tuple[BackgroundProducer, list[StandInProducer]]:
    made: list[StandInProducer] = []

    def factory(config):
        made.append(StandInProducer(config, **options))
        return made[-1]

    return BackgroundProducer({"bootstrap.servers": "x"}, name="test",
                              producer_factory=factory), made  # fmt: skip


def test_drops_are_counted_by_reason_and_unknown_reasons_refused():
    drops = DropCounter()
    drops.add("queue_full", 2)
    drops.add("invalid")
    assert drops.total == 3 and drops.by_reason() == {"queue_full": 2, "invalid": 1}
    with pytest.raises(ValueError):
        drops.add("whatever")


def test_a_drop_report_is_due_once_per_interval_and_only_with_new_drops():
    now = [0.0]
    drops = DropCounter(interval_s=60, clock=lambda: now[0])
    assert drops.report() is None
    drops.add("queue_full")
    assert "1 events" in drops.report()
    now[0] = 120.0
    assert drops.report() is None  # nothing new
    drops.add("closed", 5)
    assert drops.report() == "dropped 5 events in the last 60s (closed: 5); 6 in all"


def test_a_full_queue_drops_at_once_instead_of_waiting():
    delivery, made = producer(capacity=2)
    made[0].poll = lambda timeout: threading.Event().wait(timeout) and 0  # nothing drains
    results = [delivery.send("t", b"k", b"v") for _ in range(5)]
    assert results == [True, True, False, False, False]
    assert delivery.drops.by_reason() == {"queue_full": 3}
    delivery._closed.set()


def test_delivery_reports_come_from_the_background_thread():
    delivery, _ = producer(capacity=100)
    for _ in range(10):
        delivery.send("t", b"k", b"v")
    assert delivery.close(1.0) == 0
    assert delivery.delivered == 10 and delivery.drops.total == 0


def failing(caplog, code: int, topic: str, count: int) -> tuple[dict[str, int], list[str]]:
    """Send ``count`` records that each fail with ``code``: the drops and the log lines."""
    delivery, _ = producer(capacity=100, fail=code)
    with caplog.at_level(logging.WARNING, logger="driftline.client"):
        for _ in range(count):
            delivery.send(topic, b"k", b"v")
        delivery.close(0.1)
    return delivery.drops.by_reason(), [r.getMessage() for r in caplog.records]


def test_failed_deliveries_are_dropped_counted_and_logged_once(caplog):
    drops, lines = failing(caplog, KafkaError._MSG_TIMED_OUT, "t", 10)
    assert drops == {"delivery_failed": 10}
    assert len([line for line in lines if line.startswith("test: Kafka error")]) == 1
    assert len([line for line in lines if line.startswith("test: dropped 10 events")]) == 1


def test_a_write_refused_for_want_of_an_acl_is_counted_apart_and_says_what_to_grant(caplog):
    drops, lines = failing(caplog, KafkaError.TOPIC_AUTHORIZATION_FAILED, "predictions", 4)
    assert drops == {"not_authorized": 4}
    [line] = [line for line in lines if line.startswith("test: Kafka")]
    assert "writes to topic 'predictions'" in line and "kafka-acl --role logger" in line


def test_after_close_sends_are_dropped_as_closed_and_close_is_idempotent():
    delivery, _ = producer()
    delivery.close(0.1)
    assert delivery.send("t", b"k", b"v") is False
    assert delivery.drops.by_reason() == {"closed": 1}
    assert delivery.close(0.1) == 0


def test_the_producer_reports_errors_to_us_not_to_stderr():
    _, made = producer()
    assert made[0].config["log_level"] == 0 and callable(made[0].config["error_cb"])


def test_seen_ids_forget_the_least_recently_seen_beyond_capacity():
    seen = SeenIds(capacity=3)
    for item in "abcd":
        seen.check_and_add(item)
    assert len(seen) == 3
    assert seen.check_and_add("a") is False  # forgotten: passes again
    assert seen.check_and_add("d") is True
