"""Kafka down: ``log()`` returns at once, nothing raises, and every event is counted as
dropped (librdkafka against a loopback port where nothing listens: no broker needed)."""

from __future__ import annotations

import statistics
import time

import pytest

from streams.client import InvalidEvent, LabelLogger, PredictionLogger
from streams.kafka_config import KafkaConfig
from streams.stack.worker import free_port

CALLS, QUEUE = 1_000, 200


def nowhere() -> KafkaConfig:
    return KafkaConfig(bootstrap=f"127.0.0.1:{free_port()}")


def test_log_returns_promptly_while_kafka_is_down_and_counts_every_event_as_dropped():
    logger = PredictionLogger(kafka=nowhere(), topic="predictions", max_queue=QUEUE,
                              delivery_timeout_s=1.0)  # fmt: skip
    durations, ids = [], []
    for i in range(CALLS):
        started = time.perf_counter()
        ids.append(logger.log("churn", "v3", {"age": 30 + i % 40, "plan": "gold"}, i % 2))
        durations.append(time.perf_counter() - started)
    # Generous for a busy 2-core machine (one call took over 0.1 s in a loaded CI-sized
    # run): the point is microseconds, not a network wait, which would be the 1 s
    # delivery time-out or more.
    assert statistics.median(durations) < 0.001 and max(durations) < 0.5
    assert len(set(ids)) == CALLS
    assert logger.dropped_by_reason == {"queue_full": CALLS - QUEUE}
    deadline = time.monotonic() + 10  # the queued ones time out after delivery_timeout_s
    while logger.dropped < CALLS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logger.dropped_by_reason == {"queue_full": CALLS - QUEUE, "delivery_failed": QUEUE}
    assert logger.delivered == 0 and logger.pending == 0
    started = time.monotonic()
    assert logger.close(0.5) == 0
    assert time.monotonic() - started < 2


def test_close_gives_up_at_its_deadline_and_counts_the_unsent():
    logger = LabelLogger(kafka=nowhere(), topic="labels", delivery_timeout_s=60.0)
    for i in range(50):
        logger.log(f"e-{i}", "churn", 1)
    started = time.monotonic()
    assert logger.close(0.3) == 50
    assert time.monotonic() - started < 2
    assert logger.dropped_by_reason == {"closed": 50}
    logger.log("late", "churn", 1)  # after close: still no exception, counted
    assert logger.dropped_by_reason == {"closed": 51}


def test_a_broken_event_raises_under_validate_raise_and_is_counted_under_drop():
    strict = PredictionLogger(kafka=nowhere(), topic="p", close_timeout_s=0)
    with strict, pytest.raises(InvalidEvent):
        strict.log("../etc/passwd", "v1", {"x": 1}, 1)
    with PredictionLogger(kafka=nowhere(), topic="p", validate="drop",
                          close_timeout_s=0) as lenient:  # fmt: skip
        lenient.log("churn", "v1", {"x": object()}, 1)  # not even JSON
        lenient.log("churn", "v1", {"x": 1}, 1, timestamp="yesterday")
        assert lenient.dropped_by_reason == {"invalid": 2}
