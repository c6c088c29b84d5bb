"""Throughput, CPU and memory of Driftline against its baselines, in one run, on the same data.

Workloads (20 numeric + 4 categorical features):

- 1 model, and 10 models: every model gets enough events for its spec warm-up, its reference
  and many windows, so every detector runs on most of the events timed;
- 50 models with 4,000 events each: fewer than a reference needs, so this row measures
  ingestion + reference learning only (no detector runs) and is labelled so.

For the first two the same topic data is consumed by:

- ceiling: a plain confluent-kafka consumer that parses every event with orjson;
- bare Faust: an agent that only takes batches and acks (loadtest/baselines/bare_faust.py);
- bare Faust, chunked: the same on the route the worker takes, each fetched chunk handed to
  the agent whole (loadtest/baselines/bare_chunked_faust.py);
- naive: a per-event Faust agent with river ADWIN per feature and a Redis round trip per
  event (loadtest/baselines/naive_faust.py), over a prefix of the data (it is slow);
- Driftline: the real worker, every detector on, state in Redis.

Every Driftline row is checked before it is reported (``loadtest/work_done.py``): all events
accepted, none dead-lettered, each model's reference built (or, in the reference-learning
row, not), and at least the windows due closed; the run fails otherwise.

Run: .venv/bin/python -m loadtest.run [--events 200000] [--naive-events 20000] [--quick]
``--quick`` (CI's smoke test) uses tiny workloads with a 1,000-event reference and 500-event
windows, and checks only that every mode did its work; it says nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson
from confluent_kafka import Consumer

from loadtest.latency import QUICK_LATENCY, latency_line, measure_latency
from loadtest.leftovers import forget_run
from loadtest.process_probe import ProcessProbe
from loadtest.producer import encode_workload, kafka_from_env, produce
from loadtest.progress import wait_taken
from loadtest.work_done import Plan, WorkNotDone, from_metrics
from streams import stack
from streams.adapters.kafka.admin import ensure_topics
from streams.kafka_config import KafkaConfig
from streams.settings import Settings
from streams.stack.worker import WorkerProcess, free_port, route_direct_from_the_start, run_names

PARTITIONS = 4
# A baseline takes seconds; one that stalls (seen once, idle in Faust's loop) must say so.
BASELINE_TIMEOUT_S = 120.0


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


def faust_baseline(
    module: str, env: dict[str, str], events: int, log: Path
) -> tuple[float, float, int]:
    """Run one baseline app until it reports ``events`` consumed; its log goes to ``log``."""
    with log.open("wb") as log_file:
        child = subprocess.Popen(
            [sys.executable, "-m", module],
            env=env | {"BENCH_EVENTS": str(events)},
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
    probe = ProcessProbe(child.pid)
    try:
        assert child.stdout is not None
        report = _report_line(child.stdout, BASELINE_TIMEOUT_S)
        if report is None:
            raise WorkNotDone(
                f"{module} did not report {events:,} events consumed within "
                f"{BASELINE_TIMEOUT_S:.0f} s (exit code {child.poll()}); its log: {log}"
            )
        ended = time.monotonic()
        seconds = orjson.loads(report)["seconds"]
        cpu, rss = probe.between(ended - seconds, ended)
        return seconds, cpu, rss
    finally:
        probe.stop()
        child.terminate()
        child.wait(30)


def _report_line(stdout: IO[bytes], timeout_s: float) -> bytes | None:
    """The baseline's JSON report; None if the child closed its output or the time ran out.

    Faust prints its banner on stdout before it, through Python's buffer: unless
    PYTHONUNBUFFERED is set, a part of it may reach the pipe with no line end, and the report
    (written to the descriptor itself) then ends that line. A reader thread keeps the wait
    bounded.
    """
    lines: queue.Queue[bytes] = queue.Queue()

    def read() -> None:
        for line in stdout:
            lines.put(line)
        lines.put(b"")  # end of output

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            return None
        if not line:
            return None
        at = line.find(_REPORT)
        if at >= 0:
            return line[at:]
    return None


_REPORT = b'{"events"'


@dataclass(frozen=True, slots=True)
class Workload:
    """One row group: ``models`` models sharing ``events`` evenly."""

    label: str
    models: int
    events: int
    baselines: bool = True  # the other modes too, or the Driftline worker alone
    reference_only: bool = False  # claims ingestion + reference learning, no detector

    def plan(self, records: int, settings: dict[str, str]) -> Plan:
        per_model = records // self.models
        return Plan(
            {f"bench-m{i}": per_model for i in range(self.models)},
            warmup_events=int(settings.get("DRIFTLINE_WARMUP_EVENTS", 200)),
            reference_events=int(settings.get("DRIFTLINE_REFERENCE_EVENTS", 5000)),
            window_events=int(settings.get("DRIFTLINE_WINDOW_EVENTS", 1000)),
            reference_only=self.reference_only,
        )


def workloads(events: int, quick: bool, *, baselines: bool = True) -> tuple[Workload, ...]:
    small = 800 if quick else 4_000  # per model: fewer than a reference needs
    count = 5 if quick else 50
    return (
        Workload("1 model", 1, events, baselines),
        Workload(f"{2 if quick else 10} models", 2 if quick else 10, events, baselines),
        Workload(
            f"{count} models x {small:,} events: ingestion + reference learning only",
            count,
            count * small,
            baselines=False,
            reference_only=True,
        ),
    )


def driftline(env: dict[str, str], plan: Plan, log: Path) -> tuple[float, float, int]:
    """Run the worker until it has taken every event; check it did the planned work."""
    worker = WorkerProcess(env, web_port=free_port(), log_path=log)
    worker.start()
    assert worker.pid is not None
    probe = ProcessProbe(worker.pid)
    try:
        taken = wait_taken(worker.events_taken, plan.events, timeout_s=600, what="Driftline")
        cpu, rss = probe.between(taken.started, taken.ended)
        from_metrics(worker.metrics()).check(plan, f"Driftline worker, {log.stem}")
        return taken.seconds, cpu, rss
    finally:
        probe.stop()
        worker.stop()


def run_workload(
    config: stack.StackConfig,
    workload: Workload,
    naive_events: int,
    workdir: Path,
    settings: dict[str, str],
) -> list[Result]:
    run = f"bench-{uuid.uuid4().hex[:8]}"
    names = run_names(run)
    topic, alerts = names["DRIFTLINE_TOPIC_PREDICTIONS"], names["DRIFTLINE_TOPIC_ALERTS"]
    label = workload.label
    kafka = kafka_from_env(config.kafka_bootstrap)
    ensure_topics(kafka, [topic, alerts], partitions=PARTITIONS)
    records = encode_workload(workload.events, workload.models)
    published = produce(kafka, topic, records)
    results = [Result(label, "producer (confluent-kafka)", len(records), published, None, None)]
    if workload.baselines:
        results += baselines(config, topic, alerts, run, len(records), naive_events, workdir, label)
    env = {
        **os.environ,
        **settings,
        **names,
        "DRIFTLINE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "DRIFTLINE_REDIS_URL": config.redis_url,
        "DRIFTLINE_DATA_DIR": str(workdir),
        "DRIFTLINE_LABEL_TTL_S": "300",  # kept as in production, gone from Redis soon after
    }
    plan = workload.plan(len(records), settings)
    route_direct_from_the_start(env)  # the steady state, not the one-time copy of a backlog
    try:
        seconds, cpu, rss = driftline(env, plan, workdir / f"worker-{run}.log")
    finally:
        forget_run(Settings.from_env(env))
    results.append(Result(label, "Driftline worker", len(records), seconds, cpu, rss))
    return results


def baselines(
    config: stack.StackConfig,
    topic: str,
    alerts: str,
    run: str,
    events: int,
    naive_events: int,
    workdir: Path,
    label: str,
) -> list[Result]:
    """The ceiling and the three Faust baselines over the same topic."""
    kafka = kafka_from_env(config.kafka_bootstrap)
    seconds, cpu = ceiling(kafka, topic, events)
    results = [Result(label, "ceiling: consume + orjson", events, seconds, cpu, None)]
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
        ("bare Faust", "loadtest.baselines.bare_faust", events),
        ("bare Faust, chunked", "loadtest.baselines.bare_chunked_faust", events),
        ("naive Faust + river + Redis", "loadtest.baselines.naive_faust", naive_events),
    ):
        env = base | {
            "BENCH_GROUP": f"{module.rsplit('.', 1)[1]}-{run}",
            "BENCH_WEB_PORT": str(free_port()),
        }
        log = workdir / f"{env['BENCH_GROUP']}.log"
        seconds, cpu, rss = faust_baseline(module, env, count, log)
        results.append(Result(label, mode, count, seconds, cpu, rss))
    return results


def verdicts(results: list[Result]) -> list[str]:
    """Driftline's rate against each baseline, per workload that ran them."""
    lines = []
    for workload in dict.fromkeys(r.workload for r in results):
        by_mode = {r.mode: r for r in results if r.workload == workload}
        if "bare Faust, chunked" not in by_mode:
            continue
        ours = by_mode["Driftline worker"].rate
        lines.append(
            f"{workload}: Driftline = "
            f"{ours / by_mode['naive Faust + river + Redis'].rate:.1f}x naive, "
            f"{ours / by_mode['bare Faust, chunked'].rate:.0%} of bare Faust chunked (the "
            f"worker's route), {ours / by_mode['bare Faust'].rate:.0%} of bare Faust "
            f"per-record, {ours / by_mode['ceiling: consume + orjson'].rate:.0%} of the ceiling"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--worker-only",
        action="store_true",
        help="the Driftline worker's rows only, no baselines and no latency run (e.g. to "
        "compare DRIFTLINE_ROUTING=keyed with the default, which the worker reads)",
    )
    args = parser.parse_args()
    settings: dict[str, str] = {}
    if args.quick:
        args.events, args.naive_events = 6_000, 1_000
        settings = {"DRIFTLINE_REFERENCE_EVENTS": "1000", "DRIFTLINE_WINDOW_EVENTS": "500"}
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    started = time.monotonic()
    results: list[Result] = []
    plans = workloads(args.events, args.quick, baselines=not args.worker_only)
    with tempfile.TemporaryDirectory() as workdir:
        for workload in plans:
            results += run_workload(config, workload, args.naive_events, Path(workdir), settings)
        # Latency at half the highest rate the worker sustained with its detectors on.
        judged = {w.label for w in plans if not w.reference_only}
        top = max(r.rate for r in results if r.mode == "Driftline worker" and r.workload in judged)
        latency = None
        if not args.worker_only:
            latency = measure_latency(
                config, top / 2, Path(workdir), **(QUICK_LATENCY if args.quick else {})
            )
    print("| workload | mode | events | events/s | CPU us/event | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for result in results:
        print(result.row())
    for line in verdicts(results):
        print(line)
    if latency is not None:
        print(latency_line(latency))
    print(
        f"command: python -m loadtest.run {' '.join(sys.argv[1:])}; "
        f"{time.monotonic() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
