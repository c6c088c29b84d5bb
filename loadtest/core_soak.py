"""Memory of the pure core over a long stream, no servers: what in the worker's RSS is ours.

The soak's workload (``loadtest/soak.py``: 50 models, 20 numeric + 4 categorical features,
stationary) decoded, checked and monitored in this process (``Ingestor`` and ``Monitor`` at
the worker's default settings, batches of ``--batch`` records as the worker's joined fetches
make them). Every ``--every`` events, after a full collection: the RSS, the allocator's
blocks in use and the objects the garbage collector tracks. A count that keeps growing by
the same step is something kept per event or per window; ``--census`` names the types that
grew between the last two readings.

Run: .venv/bin/python -m loadtest.core_soak [--events 5000000] [--batch 5000] [--census]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections import Counter

from loadtest.process_probe import rss_bytes
from loadtest.producer import interleave
from loadtest.soak import SLICE_PER_MODEL
from streams.core import Ingestor
from streams.core.contract.event import RawRecord
from streams.core.drift.monitor import Monitor
from streams.settings import Settings
from streams.simulation import StreamConfig


def census() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--every", type=int, default=500_000)
    parser.add_argument("--census", action="store_true", help="name the types that grew")
    args = parser.parse_args()
    settings = Settings.from_env(os.environ)
    registry = settings.spec_registry({})
    monitor = Monitor(registry, settings.monitor_config(), rollouts=settings.rollouts(),
                      new_version_reference=settings.new_version_reference)  # fmt: skip
    ingestor = Ingestor(settings.event_decoder(), registry)
    streams = [StreamConfig(model_id=f"soak-m{i}", seed=i) for i in range(args.models)]
    print("| events | RSS MiB | allocated blocks | tracked objects | s |")
    print("| --- | --- | --- | --- | --- |")
    done, rejected, started, last = 0, 0, time.monotonic(), Counter[str]()
    while done < args.events:
        encoded = interleave(streams, SLICE_PER_MODEL, offset=done // args.models)
        records = [RawRecord(value, 0, "soak", 0, done + i) for i, (_, value) in enumerate(encoded)]
        for start in range(0, len(records), args.batch):
            result = ingestor.ingest(records[start : start + args.batch])
            monitor.process(result.accepted, result.positions, result.rejected)
            rejected += len(result.rejected)
        done += len(records)
        if done % args.every < len(records):
            gc.collect()
            print(f"| {done:,} | {rss_bytes(os.getpid()) / 2**20:.1f} | "
                  f"{sys.getallocatedblocks():,} | {len(gc.get_objects()):,} | "
                  f"{time.monotonic() - started:.0f} |", flush=True)  # fmt: skip
            if args.census:
                now = census()
                print("grew:", dict((now - last).most_common(5)) if last else "-", flush=True)
                last = now
    if rejected:
        print(
            f"core_soak: {rejected:,} of {done:,} events rejected: the run measured something else"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
