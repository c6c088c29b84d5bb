"""``driftline replay`` on the issue's workload: 120,000 events with 7 features, no servers.

Makes the file (``driftline simulate``'s stream, each event's features cut to x0-x4, c0, c1),
then times whole ``driftline replay`` runs, start-up included (what a user waits for), and
splits one in-process pass into replay's stages: reading lines, ingestion (decode + spec
check), the duplicate filter, the monitors. Prints events/s of the whole runs (median) and
microseconds per event of each stage.

Run: .venv/bin/python -m loadtest.bench_replay [--events 120000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import islice
from pathlib import Path

import orjson

from streams.adapters.files.replay import records_of
from streams.core import Ingestor
from streams.core.contract.duplicates import MemoryDuplicates, keep
from streams.core.drift.monitor import Monitor
from streams.settings import Settings

FEATURES = frozenset({"x0", "x1", "x2", "x3", "x4", "c0", "c1"})


def make_file(path: Path, events: int) -> None:
    full = path.with_suffix(".full.jsonl")
    subprocess.run([sys.executable, "-m", "streams.cli", "simulate", "--out", str(full),
                    "--events", str(events)], check=True, capture_output=True)  # fmt: skip
    with full.open("rb") as lines, path.open("wb") as out:
        for line in lines:
            event = orjson.loads(line)
            event["features"] = {k: v for k, v in event["features"].items() if k in FEATURES}
            out.write(orjson.dumps(event) + b"\n")
    full.unlink()


def whole_runs(path: Path, runs: int) -> list[float]:
    """Wall seconds of each ``driftline replay`` run (alerts to /dev/null)."""
    command = [sys.executable, "-m", "streams.cli", "replay", str(path), "--format", "jsonl"]
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(time.perf_counter() - started)
    return seconds


def stage_split(path: Path) -> tuple[int, Counter[str]]:
    """Seconds in each of replay's stages over one pass, with the replay's own settings."""
    settings = Settings.from_env(os.environ)
    registry = settings.spec_registry([])
    ingestor = Ingestor(settings.event_decoder(), registry)
    monitor = Monitor(registry, settings.monitor_config(), rollouts=settings.rollouts(),
                      new_version_reference=settings.new_version_reference)  # fmt: skip
    duplicates = MemoryDuplicates(ttl_ms=settings.dedup_ttl_s * 1000)
    spent: Counter[str] = Counter()
    events = 0
    with path.open("rb") as lines:
        records = records_of(lines, str(path))
        while True:
            started = time.perf_counter()
            batch = list(islice(records, settings.batch_size))
            read = time.perf_counter()
            if not batch:
                break
            result = ingestor.ingest(batch)
            ingested = time.perf_counter()
            flags = duplicates.duplicates(result.accepted, result.positions)
            accepted, positions = keep(result.accepted, result.positions, flags)
            filtered = time.perf_counter()
            monitor.process(accepted, positions, result.rejected)
            spent.update(read=read - started, ingest=ingested - read,
                         duplicates=filtered - ingested,
                         monitors=time.perf_counter() - filtered)  # fmt: skip
            events += len(batch)
            if result.rejected or any(flags):
                rejected, copies = len(result.rejected), sum(flags)
                raise SystemExit(f"bench_replay: {rejected} rejected, {copies} duplicates")
    return events, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "replay7.jsonl"
        make_file(path, args.events)
        seconds = whole_runs(path, args.runs)
        events, spent = stage_split(path)
    median = statistics.median(seconds)
    print(f"driftline replay, {args.events:,} events x 7 features: median {median:.3f} s "
          f"({args.events / median:,.0f} events/s) over {args.runs} runs: "
          + ", ".join(f"{s:.3f}" for s in seconds))  # fmt: skip
    print(
        f"in-process stages, us/event over {events:,}: "
        + ", ".join(f"{name} {s / events * 1e6:.2f}" for name, s in spent.items())
        + f"; total {sum(spent.values()) / events * 1e6:.2f}"
    )


if __name__ == "__main__":
    main()
