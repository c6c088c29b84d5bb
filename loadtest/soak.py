"""Memory over a long run: the worker's RSS while it processes millions of events.

Publishes the workload of loadtest/run.py (20 numeric + 4 categorical features, stationary)
in slices of fresh events while one worker consumes them, keeping the backlog under
``--backlog`` events so the run needs no more disk than that, and reads the worker's RSS
from /proc each time another ``--every`` events are processed. Monitors are created and
references learned in the first ``--warmup`` events; the RSS after that is what must stay
flat. At the end the worker drains what was published and its work is checked
(``loadtest/work_done.py``): every event accepted, every model's reference built, the windows
due closed; the run fails otherwise.

Run: .venv/bin/python -m loadtest.soak [--events 10000000] [--models 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from loadtest.process_probe import rss_bytes
from loadtest.producer import interleave, kafka_from_env, produce
from loadtest.work_done import Plan, WorkNotDone, from_metrics
from streams import stack
from streams.adapters.kafka.admin import ensure_topics
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess, free_port, run_names

PARTITIONS = 4
SLICE_PER_MODEL = 2_000


def taken(worker: WorkerProcess, *, attempts: int = 12) -> int:
    """Events the worker took. A scrape that times out is asked again: a loaded machine can
    keep /metrics waiting for seconds, and one slow answer must not end a 25-minute run."""
    for _ in range(attempts - 1):
        try:
            return worker.events_taken()
        except OSError:  # urllib's time-outs and refused connections
            if not worker.running:
                raise
            time.sleep(5)
    return worker.events_taken()


def drain(worker: WorkerProcess, published: int) -> None:
    """Wait until the worker took everything published (the check needs whole counts)."""
    deadline = time.monotonic() + 600
    while taken(worker) < published:
        if time.monotonic() > deadline:
            raise WorkNotDone(f"soak: {taken(worker):,} of {published:,} events taken")
        time.sleep(0.5)


def soak(config: stack.StackConfig, args: argparse.Namespace, workdir: Path) -> list[tuple]:
    names = run_names(f"soak-{uuid.uuid4().hex[:8]}")
    topic = names["DRIFTLINE_TOPIC_PREDICTIONS"]
    kafka = kafka_from_env(config.kafka_bootstrap)
    ensure_topics(kafka, [topic, names["DRIFTLINE_TOPIC_ALERTS"]],
                  partitions=PARTITIONS, configs={topic: {"retention.ms": "120000"}})  # fmt: skip
    streams = [StreamConfig(model_id=f"soak-m{i}", seed=i) for i in range(args.models)]
    # Predictions are kept for the label join as in production, but for 5 minutes, not 7
    # days: 10M of them would otherwise leave ~3 GB in the local Redis.
    env = {**os.environ, **names, "DRIFTLINE_KAFKA_BOOTSTRAP": kafka.bootstrap,
           "DRIFTLINE_REDIS_URL": config.redis_url, "DRIFTLINE_DATA_DIR": str(workdir),
           "DRIFTLINE_LABEL_TTL_S": "300"}  # fmt: skip
    worker = WorkerProcess(env, web_port=free_port(), log_path=workdir / "worker.log")
    worker.start()
    assert worker.pid is not None
    samples: list[tuple[int, float, int]] = []  # (events processed, monotonic time, RSS)
    published, next_sample = 0, 0
    try:
        while True:
            done = taken(worker)
            if done >= next_sample or done >= args.events:
                samples.append((done, time.monotonic(), rss_bytes(worker.pid)))
                next_sample = done + args.every
            if done >= args.events:
                drain(worker, published)
                plan = Plan({s.model_id: published // args.models for s in streams})
                from_metrics(worker.metrics()).check(plan, "soak")
                return samples
            if published < args.events and published - done < args.backlog:
                records = interleave(streams, SLICE_PER_MODEL, offset=published // args.models)
                produce(kafka, topic, records)
                published += len(records)
            else:
                time.sleep(0.5)
    finally:
        worker.stop()


def report(samples: list[tuple[int, float, int]], warmup: int) -> None:
    print("| events processed | events/s since the last row | RSS MiB |")
    print("| --- | --- | --- |")
    for (done, at, rss), (before, then, _) in zip(samples[1:], samples, strict=False):
        rate = (done - before) / (at - then) if at > then else 0.0
        print(f"| {done:,} | {rate:,.0f} | {rss / 2**20:.1f} |")
    judged = [rss for done, _, rss in samples if done >= warmup]
    if judged:
        low, high = min(judged), max(judged)
        print(f"after {warmup:,} events: RSS {low / 2**20:.1f}-{high / 2**20:.1f} MiB, "
              f"max/min = {high / low:.3f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--every", type=int, default=500_000)
    parser.add_argument("--warmup", type=int, default=1_000_000)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    args = parser.parse_args()
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as workdir:
        samples = soak(config, args, Path(workdir))
    report(samples, args.warmup)
    print(f"command: python -m loadtest.soak {' '.join(sys.argv[1:])}; "
          f"{time.monotonic() - started:.0f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
