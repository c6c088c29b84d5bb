"""Event-to-alert latency of the Driftline worker at a steady publishing rate.

Publishes, in real time at ``rate`` events/s, streams of several models whose feature x7
shifts part-way, and times each alert from its trigger event's Kafka record timestamp
(set by the producer) to its arrival on the alerts topic. Small reference and windows, so
drifts come soon; the latency measured is the pipeline's (batching, processing, publishing),
which the window size does not change: the trigger is the window's last event.

Run alone: .venv/bin/python -m loadtest.latency [--rate 2000] [--models 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from loadtest.producer import interleave, kafka_from_env
from streams import stack
from streams.adapters.kafka_records import end_offsets
from streams.adapters.worker_process import WorkerProcess, free_port, run_names
from streams.kafka_config import KafkaConfig
from streams.simulation import Scenario, StreamConfig

__all__ = ["measure_latency"]

EVENTS_PER_MODEL, DRIFT_AT = 3_000, 1_500


def _workload(models: int) -> list[tuple[bytes, bytes]]:
    drift = Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0)
    streams = [
        StreamConfig(model_id=f"lat-m{i}", seed=100 + i, scenarios=(drift,)) for i in range(models)
    ]
    return interleave(streams, EVENTS_PER_MODEL)


def _publish_at(kafka: KafkaConfig, topic: str, records, rate: float, sent: dict) -> None:
    def delivered(error, message) -> None:
        if error is None:
            sent[message.partition(), message.offset()] = message.timestamp()[1]

    producer = Producer(kafka.confluent({"linger.ms": 5}))
    started = time.monotonic()
    for i, (key, value) in enumerate(records):
        producer.produce(topic, value, key, on_delivery=delivered)
        ahead = i / rate - (time.monotonic() - started)
        if ahead > 0:
            producer.poll(0)
            time.sleep(ahead)
    producer.flush(30)


def _collect_alerts(
    kafka: KafkaConfig, topic: str, stop: threading.Event, ready: threading.Event, arrived: list
) -> None:
    consumer = Consumer(kafka.confluent({"group.id": f"lat-{uuid.uuid4()}"}))
    # Assigned, not subscribed: joining a group takes seconds, and an alert that arrived
    # meanwhile would be timed late.
    start = end_offsets(kafka, topic)
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in start.items()])
    ready.set()
    while not stop.is_set():
        message = consumer.poll(0.05)
        if message is not None and not message.error():
            arrived.append((time.time() * 1000, orjson.loads(message.value())))
    consumer.close()


def measure_latency(config: stack.StackConfig, rate: float, models: int, workdir: Path) -> dict:
    """Publish at ``rate`` and return the latency percentiles (ms) over the alerts seen."""
    run = f"latency-{uuid.uuid4().hex[:8]}"
    names = run_names(run)
    topic, alerts = names["DRIFTLINE_TOPIC_PREDICTIONS"], names["DRIFTLINE_TOPIC_ALERTS"]
    kafka = kafka_from_env(config.kafka_bootstrap)
    env = {
        **os.environ,
        **names,
        "DRIFTLINE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "DRIFTLINE_REDIS_URL": config.redis_url,
        "DRIFTLINE_DATA_DIR": str(workdir),
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
    }
    records = _workload(models)
    worker = WorkerProcess(env, web_port=free_port(), log_path=workdir / f"{run}.log")
    worker.start()
    worker.wait_for_partitions()  # else the first alerts include the group's join time
    sent: dict[tuple[int, int], int] = {}
    arrived: list[tuple[float, dict]] = []
    stop, ready = threading.Event(), threading.Event()
    collector = threading.Thread(target=_collect_alerts, args=(kafka, alerts, stop, ready, arrived))
    collector.start()
    ready.wait(30)
    try:
        _publish_at(kafka, topic, records, rate, sent)
        time.sleep(3)  # the last windows' alerts
    finally:
        stop.set()
        collector.join()
        worker.stop()
    latencies = [
        at - sent[a["trigger"]["partition"], a["trigger"]["offset"]]
        for at, a in arrived
        if (a["trigger"]["partition"], a["trigger"]["offset"]) in sent
    ]
    if not latencies:
        raise RuntimeError("no alert arrived: nothing to time")
    return {
        "alerts": len(latencies),
        "rate": rate,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "max_ms": float(max(latencies)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--models", type=int, default=10)
    args = parser.parse_args()
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    with tempfile.TemporaryDirectory() as workdir:
        print(measure_latency(config, args.rate, args.models, Path(workdir)))


if __name__ == "__main__":
    main()
