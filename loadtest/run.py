"""Throughput, CPU and memory of Driftline against its baselines, in one run, on the same data.

For each workload (20 numeric + 4 categorical features; 1 model, then 50 models) the same
topic data is consumed by:

- ceiling: a plain confluent-kafka consumer that parses every event with orjson;
- bare Faust: an agent that only takes batches and acks (loadtest/baselines/bare_faust.py);
- bare Faust, chunked: the same on the route the worker takes, each fetched chunk handed to
  the agent whole (loadtest/baselines/bare_chunked_faust.py);
- naive: a per-event Faust agent with river ADWIN per feature and a Redis round trip per
  event (loadtest/baselines/naive_faust.py), over a prefix of the data (it is slow);
- Driftline: the real worker, every detector on, state in Redis.

Run: .venv/bin/python -m loadtest.run [--events 200000] [--naive-events 20000] [--quick]
``--quick`` (CI's smoke test) uses tiny workloads and checks only that every mode consumed
every event it was given; it says nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
from confluent_kafka import Consumer

from loadtest.latency import measure_latency
from loadtest.process_probe import ProcessProbe
from loadtest.producer import encode_workload, kafka_from_env, produce
from streams import stack
from streams.adapters.kafka_admin import ensure_topics
from streams.adapters.worker_process import WorkerProcess, free_port, run_names
from streams.kafka_config import KafkaConfig

PARTITIONS = 4


@dataclass(frozen=True, slots=True)
class Result:
    workload: str
    mode: str
    events: int
    seconds: float
    cpu_seconds: float | None
    peak_rss: int | None

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def row(self) -> str:
        cpu = "n/a" if self.cpu_seconds is None else f"{self.cpu_seconds / self.events * 1e6:.1f}"
        rss = "n/a" if self.peak_rss is None else f"{self.peak_rss / 2**20:.0f}"
        return (
            f"| {self.workload} | {self.mode} | {self.events:,} | {self.rate:,.0f} | {cpu} "
            f"| {rss} |"
        )


def ceiling(kafka: KafkaConfig, topic: str, events: int) -> tuple[float, float]:
    consumer = Consumer(
        kafka.confluent(
            {
                "group.id": f"ceiling-{uuid.uuid4()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
    )
    consumer.subscribe([topic])
    count, started, cpu = 0, None, 0.0
    deadline = time.monotonic() + 120
    while count < events and time.monotonic() < deadline:
        for message in consumer.consume(10_000, timeout=1.0):
            if message.error():
                continue
            if started is None:
                started, cpu = time.monotonic(), time.process_time()
            orjson.loads(message.value())
            count += 1
    consumer.close()
    if count < events or started is None:
        raise RuntimeError(f"ceiling consumed {count} of {events} events")
    return time.monotonic() - started, time.process_time() - cpu


def faust_baseline(module: str, env: dict[str, str], events: int) -> tuple[float, float, int]:
    child = subprocess.Popen(
        [sys.executable, "-m", module],
        env=env | {"BENCH_EVENTS": str(events)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    probe = ProcessProbe(child.pid)
    try:
        assert child.stdout is not None
        for line in child.stdout:  # Faust prints its banner on stdout first
            if line.startswith(b'{"events"'):
                break
        else:
            raise RuntimeError(f"{module} exited without consuming {events} events")
        ended = time.monotonic()
        seconds = orjson.loads(line)["seconds"]
        cpu, rss = probe.between(ended - seconds, ended)
        return seconds, cpu, rss
    finally:
        probe.stop()
        child.terminate()
        child.wait(30)


def driftline(env: dict[str, str], events: int, log: Path) -> tuple[float, float, int]:
    worker = WorkerProcess(env, web_port=free_port(), log_path=log)
    worker.start()
    assert worker.pid is not None
    probe = ProcessProbe(worker.pid)
    try:
        started = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = worker.metric_total("driftline_events_processed_total") + worker.metric_total(
                "driftline_events_rejected_total"
            )
            if done and started is None:
                started = time.monotonic()
            if done >= events:
                ended = time.monotonic()
                cpu, rss = probe.between(started or ended, ended)
                return ended - (started or ended), cpu, rss
            time.sleep(0.1)
        raise RuntimeError(f"Driftline processed {done:.0f} of {events} events in time")
    finally:
        probe.stop()
        worker.stop()


def run_workload(
    config: stack.StackConfig, models: int, events: int, naive_events: int, workdir: Path
) -> list[Result]:
    run = f"bench-{uuid.uuid4().hex[:8]}"
    names = run_names(run)
    topic, alerts = names["DRIFTLINE_TOPIC_PREDICTIONS"], names["DRIFTLINE_TOPIC_ALERTS"]
    workload = f"{models} model{'s' if models > 1 else ''}"
    kafka = kafka_from_env(config.kafka_bootstrap)
    ensure_topics(kafka, [topic, alerts], partitions=PARTITIONS)
    records = encode_workload(events, models)
    published = produce(kafka, topic, records)
    results = [Result(workload, "producer (confluent-kafka)", len(records), published, None, None)]
    seconds, cpu = ceiling(kafka, topic, len(records))
    results.append(Result(workload, "ceiling: consume + orjson", len(records), seconds, cpu, None))
    base = {
        **os.environ,
        "BENCH_BOOTSTRAP": kafka.bootstrap,
        "BENCH_TOPIC": topic,
        "BENCH_ALERTS": alerts,
        "BENCH_REDIS_URL": config.redis_url,
        "BENCH_DATADIR": str(workdir),
        "PYTHONPATH": str(Path(__file__).parents[1]),
    }
    for mode, module, count in (
        ("bare Faust", "loadtest.baselines.bare_faust", len(records)),
        ("bare Faust, chunked", "loadtest.baselines.bare_chunked_faust", len(records)),
        ("naive Faust + river + Redis", "loadtest.baselines.naive_faust", naive_events),
    ):
        env = base | {
            "BENCH_GROUP": f"{module.rsplit('.', 1)[1]}-{run}",
            "BENCH_WEB_PORT": str(free_port()),
        }
        seconds, cpu, rss = faust_baseline(module, env, count)
        results.append(Result(workload, mode, count, seconds, cpu, rss))
    env = {
        **os.environ,
        **names,
        "DRIFTLINE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "DRIFTLINE_REDIS_URL": config.redis_url,
        "DRIFTLINE_DATA_DIR": str(workdir),
        "DRIFTLINE_LABEL_TTL_S": "300",  # kept as in production, gone from Redis soon after
    }
    seconds, cpu, rss = driftline(env, len(records), workdir / f"worker-{run}.log")
    results.append(Result(workload, "Driftline worker", len(records), seconds, cpu, rss))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=20_000)
    parser.add_argument("--models", default="1,50")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.events, args.naive_events, args.models = 6_000, 1_000, "1,5"
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    started = time.monotonic()
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as workdir:
        for models in (int(m) for m in args.models.split(",")):
            results += run_workload(config, models, args.events, args.naive_events, Path(workdir))
        # Latency at half the highest rate the worker just sustained.
        top = max(r.rate for r in results if r.mode == "Driftline worker")
        latency = measure_latency(config, top / 2, 2 if args.quick else 10, Path(workdir))
    print("| workload | mode | events | events/s | CPU us/event | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for result in results:
        print(result.row())
    for workload in dict.fromkeys(r.workload for r in results):
        by_mode = {
            r.mode.split(":")[0].split(" (")[0]: r for r in results if r.workload == workload
        }
        ours = by_mode["Driftline worker"].rate
        print(
            f"{workload}: Driftline = {ours / by_mode['naive Faust + river + Redis'].rate:.1f}x "
            f"naive, {ours / by_mode['bare Faust'].rate:.0%} of bare Faust, "
            f"{ours / by_mode['ceiling'].rate:.0%} of the ceiling"
        )
    print(
        f"event-to-alert latency at {latency['rate']:,.0f} events/s over {latency['alerts']} "
        f"alerts: p50 {latency['p50_ms']:.0f} ms, p99 {latency['p99_ms']:.0f} ms"
    )
    print(
        f"command: python -m loadtest.run {' '.join(sys.argv[1:])}; "
        f"{time.monotonic() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
