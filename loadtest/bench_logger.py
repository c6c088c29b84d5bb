"""What ``PredictionLogger.log()`` costs its caller, and how many events/s one logger delivers.

Two measurements against a real broker (the local stack unless ``DRIFTLINE_*`` says otherwise):

1. Overhead: ``--calls`` calls of ``log()`` with a 10-feature event, each timed alone with
   ``perf_counter_ns``; median and p99 per validation mode (``raise`` checks the event with
   the worker's decoder, ``off`` does not). The queue is sized so nothing is dropped; the
   run fails if anything was.
2. Throughput: ``--events`` events logged in a tight loop, then ``close()``; events
   delivered (acknowledged by the broker) per second from the first call to the last
   acknowledgement. Fails unless every event was delivered.

Run: .venv/bin/python -m loadtest.bench_logger [--calls 20000] [--events 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

from streams.adapters.kafka.admin import ensure_topics
from streams.client import PredictionLogger
from streams.settings import Settings

FEATURES = {f"x{i}": 0.5 + i for i in range(8)} | {"plan": "gold", "active": True}


def overhead(settings: Settings, topic: str, calls: int, validate: str) -> tuple[float, float]:
    """Median and p99 of one ``log()`` call, in microseconds."""
    durations = []
    with PredictionLogger(settings=settings, topic=topic, validate=validate,
                          max_queue=calls + 1, close_timeout_s=60) as logger:  # fmt: skip
        for i in range(calls):
            started = time.perf_counter_ns()
            logger.log("bench", "v1", FEATURES, i % 2, score=0.7, latency_ms=3.2)
            durations.append(time.perf_counter_ns() - started)
    if logger.dropped or logger.delivered != calls:
        sys.exit(f"overhead run: delivered {logger.delivered} of {calls}, dropped {logger.dropped}")
    quantiles = statistics.quantiles(durations, n=100)
    return statistics.median(durations) / 1000, quantiles[98] / 1000


def throughput(settings: Settings, topic: str, events: int) -> float:
    """Events per second delivered by one logger, first call to last acknowledgement."""
    logger = PredictionLogger(settings=settings, topic=topic, max_queue=events + 1,
                              close_timeout_s=120)  # fmt: skip
    started = time.perf_counter()
    for i in range(events):
        logger.log("bench", "v1", FEATURES, i % 2, score=0.7)
    logger.close()
    elapsed = time.perf_counter() - started
    if logger.dropped or logger.delivered != events:
        sys.exit(f"throughput run: delivered {logger.delivered} of {events}")
    return events / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args(argv)
    settings = Settings.from_env(os.environ)
    topic = f"bench-logger-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings.kafka, [topic], partitions=4)
    for validate in ("raise", "off"):
        median, p99 = overhead(settings, topic, args.calls, validate)
        print(f"log() validate={validate}: median {median:.1f} us, p99 {p99:.1f} us "
              f"over {args.calls} calls")  # fmt: skip
    rate = throughput(settings, topic, args.events)
    print(f"one logger: {rate:,.0f} events/s delivered ({args.events} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
