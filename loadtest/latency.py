"""Event-to-alert latency of the Driftline worker in steady state, at the default settings.

Two phases over ``models`` models:

1. Reference: each model's spec warm-up, reference and one stationary window are published
   as fast as the broker takes them; the worker must take them all, build every model's
   reference and close a window (checked, ``loadtest/work_done.py``) before anything is
   timed. So the timed phase meets monitors in steady state, not learning.
2. Timed: at ``rate`` events/s in real time, each model's features x0, x1, ... shift by
   ``MAGNITUDE`` sigma one after another, a window apart, then one more window runs. Each
   shift must raise a firing drift alert on its feature: ``models * drifts`` alerts at
   least, with triggers at different windows' ends.

Each alert is timed from its trigger event's Kafka record timestamp (set by the producer) to
its arrival on the alerts topic. Fewer alerts than due, or events rejected, fail the run.

Run alone: .venv/bin/python -m loadtest.latency [--rate 9000] [--models 50] [--drifts 10]
(defaults: 500 drift alerts, reference 5,000 and window 1,000 events; ~310,000 events
published up front, then ~550,000 at ``rate``)
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

from loadtest.producer import interleave, kafka_from_env, produce
from loadtest.progress import wait_taken
from loadtest.work_done import Plan, WorkNotDone, from_metrics, require_alerts
from streams import stack
from streams.adapters.kafka.records import end_offsets, read_from
from streams.adapters.kafka.routing import routed_records
from streams.kafka_config import KafkaConfig
from streams.simulation import Scenario, StreamConfig
from streams.stack.worker import WorkerProcess, free_port, run_names

__all__ = ["QUICK_LATENCY", "latency_line", "measure_latency"]

MAGNITUDE = 2.0  # sigma: caught in the window it starts in, or the next
WARMUP = 200
# CI's smoke run: small reference and windows, a few alerts; not a measurement.
QUICK_LATENCY = {"models": 2, "drifts": 3, "reference_events": 1000, "window_events": 500}


def _streams(models: int, drifts: int, lead: int, window: int) -> list[StreamConfig]:
    shifts = tuple(
        Scenario(kind="abrupt", feature=f"x{k}", start=lead + k * window, magnitude=MAGNITUDE)
        for k in range(drifts)
    )
    return [
        StreamConfig(model_id=f"lat-m{i}", seed=100 + i, scenarios=shifts) for i in range(models)
    ]


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
    if producer.flush(60):
        raise WorkNotDone("latency: the timed events were not all delivered")


def _collect_alerts(
    kafka: KafkaConfig, topic: str, stop: threading.Event, ready: threading.Event, arrived: list,
    created: dict,
) -> None:  # fmt: skip
    consumer = Consumer(kafka.confluent({"group.id": f"lat-{uuid.uuid4()}"}))
    # Assigned, not subscribed: joining a group takes seconds, and an alert that arrived
    # meanwhile would be timed late.
    start = end_offsets(kafka, topic)
    consumer.assign([TopicPartition(topic, p, offset) for p, offset in start.items()])
    ready.set()
    while not stop.is_set():
        message = consumer.poll(0.05)
        if message is not None and not message.error():
            alert = orjson.loads(message.value())
            arrived.append((time.time() * 1000, alert))
            trigger = alert.get("trigger") or {}
            created.setdefault((trigger.get("partition"), trigger.get("offset")),
                               message.timestamp()[1])  # fmt: skip
    consumer.close()


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise WorkNotDone(f"latency: {what} within {timeout_s:.0f} s")
        time.sleep(0.2)


def drift_alerts(arrived: list[tuple[float, dict]], drifts: int) -> int:
    """Firing drift alerts on the shifted features: the ones the workload must raise."""
    shifted = {f"x{k}" for k in range(drifts)}
    return sum(
        1
        for _, alert in arrived
        if alert.get("status") == "firing" and alert.get("feature") in shifted
    )


def measure_latency(
    config: stack.StackConfig,
    rate: float,
    workdir: Path,
    *,
    models: int = 50,
    drifts: int = 10,
    reference_events: int = 5000,
    window_events: int = 1000,
) -> dict:
    """Run both phases; the latency percentiles (ms) over every alert of the timed phase."""
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
        "DRIFTLINE_REFERENCE_EVENTS": str(reference_events),
        "DRIFTLINE_WINDOW_EVENTS": str(window_events),
    }
    lead = WARMUP + reference_events + window_events
    streams = _streams(models, drifts, lead, window_events)
    timed = interleave(streams, (drifts + 1) * window_events, offset=lead)
    plan = Plan(
        {s.model_id: lead for s in streams},
        warmup_events=WARMUP,
        reference_events=reference_events,
        window_events=window_events,
    )
    worker = WorkerProcess(env, web_port=free_port(), log_path=workdir / f"{run}.log")
    worker.start()
    sent: dict[tuple[int, int], int] = {}
    arrived: list[tuple[float, dict]] = []
    created: dict[tuple[int, int], int] = {}  # trigger -> the first alert's CreateTime
    stop, ready = threading.Event(), threading.Event()
    collector = threading.Thread(target=_collect_alerts,
                                 args=(kafka, alerts, stop, ready, arrived, created))  # fmt: skip
    try:
        worker.wait_for_partitions()  # else the first alerts include the group's join time
        produce(kafka, topic, interleave(streams, lead))
        wait_taken(worker.events_taken, plan.events, timeout_s=600, what="latency's reference")
        from_metrics(worker.metrics()).check(plan, "latency, reference phase")
        collector.start()
        if not ready.wait(60):
            raise WorkNotDone("latency: the alert collector did not start")
        _publish_at(kafka, topic, timed, rate, sent)
        due = models * drifts
        _wait_for(lambda: drift_alerts(arrived, drifts) >= due, 120, f"{due} drift alerts")
        wait_taken(worker.events_taken, plan.events + len(timed), timeout_s=120, what="latency")
        rejected = worker.metric_total("driftline_events_rejected_total")
        if rejected:
            raise WorkNotDone(f"latency: {rejected:.0f} events rejected")
    finally:
        stop.set()
        if collector.is_alive():
            collector.join()
        worker.stop()
    latencies = [
        at - sent[a["trigger"]["partition"], a["trigger"]["offset"]]
        for at, a in arrived
        if (a["trigger"]["partition"], a["trigger"]["offset"]) in sent
    ]
    require_alerts(len(latencies), due, "latency, timed phase (alerts with a timed trigger)")
    return {
        "alerts": len(latencies),
        "windows": len({(a["trigger"]["partition"], a["trigger"]["offset"]) for _, a in arrived}),
        "rate": rate,
        "reference_events": reference_events,
        "window_events": window_events,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "max_ms": float(max(latencies)),
        **_stages(kafka, env, created),
    }


def _stages(kafka: KafkaConfig, env: dict[str, str], created: dict) -> dict:
    """Where the time went, from the records themselves (the routing stage only): each
    trigger's by-model copy against its source record's timestamp, and the alert against
    the copy (CreateTimes, set where each record was produced)."""
    if env.get("DRIFTLINE_ROUTING", "repartition") != "repartition":
        return {}
    topic = f"{env['DRIFTLINE_APP_ID']}-predictions-by-model"
    ends = end_offsets(kafka, topic)
    copies = {}
    for record in read_from(kafka, topic, dict.fromkeys(ends, 0), count=sum(ends.values()),
                            timeout_s=120):  # fmt: skip
        held = routed_records(topic, record.partition, record.offset, record.timestamp_ms,
                              record.value, record.key, list(record.headers.items()))  # fmt: skip
        for source in held:
            place = (source.partition, source.offset)
            if place in created:
                copies[place] = (source.timestamp_ms, record.timestamp_ms)
    return stage_split(created, copies)


def stage_split(created: dict, copies: dict) -> dict:
    """p50 and p99 (ms) of the routing hop (copy - source) and the monitor side (alert -
    copy) over the triggers found in both.

    >>> stage_split({(0, 1): 300, (0, 2): 500}, {(0, 1): (100, 150), (0, 2): (200, 210)})
    {'routing_ms': (30.0, 49.6), 'monitor_ms': (220.0, 288.6)}
    """
    rows = [(copies[t][0], copies[t][1], at) for t, at in created.items() if t in copies]
    if not rows:
        return {}
    source, copy, alert = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    parts = {"routing_ms": copy - source, "monitor_ms": alert - copy}
    return {name: tuple(round(float(np.percentile(part, q)), 1) for q in (50, 99))
            for name, part in parts.items()}  # fmt: skip


def latency_line(result: dict) -> str:
    return (
        f"event-to-alert latency at {result['rate']:,.0f} events/s, reference "
        f"{result['reference_events']:,} / window {result['window_events']:,}, over "
        f"{result['alerts']} alerts from {result['windows']} windows in steady state: "
        f"p50 {result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms, "
        f"max {result['max_ms']:.0f} ms"
        + ("" if "routing_ms" not in result else
           "; routing hop p50 / p99 {:.0f} / {:.0f} ms, monitor side {:.0f} / {:.0f} ms".format(
               *result["routing_ms"], *result["monitor_ms"]))
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=9000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--drifts", type=int, default=10)
    args = parser.parse_args()
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    with tempfile.TemporaryDirectory() as workdir:
        result = measure_latency(
            config, args.rate, Path(workdir), models=args.models, drifts=args.drifts
        )
    print(latency_line(result))


if __name__ == "__main__":
    main()
