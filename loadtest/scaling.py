"""Scale-out: the aggregate rate of 1, 2 and 4 worker processes in one consumer group.

For each worker count, a fresh topic (``--partitions`` partitions) and consumer group: the
workers start and settle their partitions first (so no state is handed over while the clock
runs). They are stopped (SIGSTOP) while the workload of loadtest/run.py (``--models`` models
sharing ``--events`` events, 20 numeric + 4 categorical features, every detector on) is
published, and resumed together after: the clock runs from then to the last event
processed, and times their work alone. (Workers left to consume while the harness
published did 8-16% of the work before the clock started, beside the publishing: the
2026-12-06 entry of BENCHMARKS.md.) A rebalance while the clock runs fails the run. CPU per
event is every worker's user + system time over that span, from /proc. The work is checked
before a row is printed (``loadtest/work_done.py``): every event accepted exactly once
across the workers (a model counted by two workers would add up to more), every model's
reference built, its windows closed. The run's keys and topics are deleted after it.

Run: .venv/bin/python -m loadtest.scaling [--workers 1 2 4] [--events 400000] [--models 32]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loadtest.leftovers import forget_run
from loadtest.process_probe import ProcessProbe
from loadtest.producer import encode_workload, kafka_from_env, produce
from loadtest.progress import wait_taken
from loadtest.work_done import Observed, Plan, WorkNotDone, from_metrics
from streams import stack
from streams.adapters.kafka.admin import ensure_topics
from streams.settings import Settings
from streams.stack.worker import WorkerProcess, free_port, route_direct_from_the_start, run_names


@dataclass(frozen=True, slots=True)
class Row:
    workers: int
    events: int
    seconds: float
    cpu_seconds: float
    per_worker: tuple[int, ...]

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def assignment(workers: list[WorkerProcess]) -> list[list[int]]:
    """Each worker's partitions of the input topic, from its /health."""
    return [sorted(w.health()[1]["stream"]["partitions"]) for w in workers]


def settled(
    workers: list[WorkerProcess], partitions: int, timeout_s: float = 120
) -> list[list[int]]:
    """Wait until the group holds every input partition, each worker some, for 2 s running;
    each worker's partitions then."""
    deadline, steady_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        owned = assignment(workers)
        if all(owned) and sum(len(o) for o in owned) == partitions:
            steady_since = steady_since or time.monotonic()
            if time.monotonic() - steady_since >= 2:
                return owned
        else:
            steady_since = None
        time.sleep(0.2)
    raise WorkNotDone(f"{len(workers)} workers did not settle on {partitions} partitions")


@contextmanager
def held(workers: list[WorkerProcess]) -> Iterator[None]:
    """The workers stopped for the block, resumed together after it."""
    pids = [w.pid for w in workers if w.pid is not None]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def merged(observed: list[Observed]) -> Observed:
    """One view of the group: each model is owned (and reported) by one worker."""
    total = Observed()
    for part in observed:
        total.rejected += part.rejected
        for model, count in part.accepted.items():
            total.accepted[model] = total.accepted.get(model, 0) + count
        for model, ready in part.reference_ready.items():
            total.reference_ready[model] = total.reference_ready.get(model, False) or ready
        for model, windows in part.windows.items():
            total.windows[model] = total.windows.get(model, 0) + windows
    return total


def run(config: stack.StackConfig, count: int, args: argparse.Namespace, workdir: Path) -> Row:
    names = run_names(f"scale{count}-{uuid.uuid4().hex[:8]}")
    topic = names["DRIFTLINE_TOPIC_PREDICTIONS"]
    kafka = kafka_from_env(config.kafka_bootstrap)
    ensure_topics(kafka, [topic, names["DRIFTLINE_TOPIC_ALERTS"]], partitions=args.partitions)
    env = {**os.environ, **names, "DRIFTLINE_KAFKA_BOOTSTRAP": kafka.bootstrap,
           "DRIFTLINE_REDIS_URL": config.redis_url, "DRIFTLINE_DATA_DIR": str(workdir),
           "DRIFTLINE_PARTITIONS": str(args.partitions),
           "DRIFTLINE_LABEL_TTL_S": "300",
           # Held (no heartbeats) while the workload is published: seconds, not a minute.
           "DRIFTLINE_SESSION_TIMEOUT_S": "60"}  # fmt: skip
    route_direct_from_the_start(env)  # the steady state, not the one-time copy of a backlog
    workers = [
        WorkerProcess(env, web_port=free_port(), log_path=workdir / f"scale{count}-{i}.log")
        for i in range(count)
    ]
    for worker in workers:
        worker.start()
    try:
        partitions = settled(workers, args.partitions)
        probes = [ProcessProbe(w.pid) for w in workers if w.pid is not None]
        records = encode_workload(args.events, args.models)
        with held(workers):
            produce(kafka, topic, records)
        taken = wait_taken(lambda: sum(w.events_taken() for w in workers), len(records),
                           timeout_s=900, what=f"{count} workers")  # fmt: skip
        cpu = sum(probe.between(taken.started, taken.ended)[0] for probe in probes)
        for probe in probes:
            probe.stop()
        plan = Plan({f"bench-m{i}": len(records) // args.models for i in range(args.models)})
        if assignment(workers) != partitions:
            raise WorkNotDone(f"{count} workers: a rebalance while the clock ran")
        merged([from_metrics(w.metrics()) for w in workers]).check(plan, f"{count} workers")
        split = tuple(w.events_taken() for w in workers)
        return Row(count, len(records), taken.seconds, cpu, split)
    finally:
        for worker in workers:
            worker.stop()
        forget_run(Settings.from_env(env))


def report(rows: list[Row]) -> None:
    one = rows[0].rate if rows and rows[0].workers == 1 else None
    print("| workers | events | events/s | vs 1 worker | CPU us/event | events per worker |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ratio = f"{row.rate / one:.2f}x" if one else "n/a"
        split = ", ".join(f"{n:,}" for n in row.per_worker)
        print(f"| {row.workers} | {row.events:,} | {row.rate:,.0f} | {ratio} | "
              f"{1e6 * row.cpu_seconds / row.events:.1f} | {split} |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--models", type=int, default=32)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for count in args.workers:
            rows.append(run(config, count, args, Path(workdir)))
            print(f"scaling: {count} worker(s) done", file=sys.stderr)
    report(rows)
    print(f"command: python -m loadtest.scaling {' '.join(sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
