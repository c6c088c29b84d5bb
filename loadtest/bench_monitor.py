"""Cost per event of the monitors (``Monitor.process``, every detector on), no servers.

The events are decoded first (not timed); then the same batches go through a fresh
``Monitor`` and only ``process`` is timed: reference learning, then windows judged.

Run: .venv/bin/python loadtest/bench_monitor.py EVENTS.jsonl [--batch N] [--repeat N]
(EVENTS.jsonl from ``driftline simulate --out``: 20 numeric + 4 categorical features).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from streams.core import EventDecoder, Ingestor, RawRecord, SpecRegistry
from streams.core.contract.event import PredictionEvent
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor

Batch = tuple[list[PredictionEvent], list[tuple[int, int]]]


def decoded(path: Path, batch: int) -> tuple[SpecRegistry, list[Batch]]:
    """The file's events decoded and validated, in batches of ``batch``."""
    registry = SpecRegistry(warmup_events=200)
    ingestor = Ingestor(EventDecoder(), registry)
    lines = path.read_bytes().splitlines()
    batches: list[Batch] = []
    for start in range(0, len(lines), batch):
        records = [
            RawRecord(line, 0, "bench", 0, start + i)
            for i, line in enumerate(lines[start : start + batch])
        ]
        result = ingestor.ingest(records)
        batches.append((list(result.accepted), list(result.positions)))
    return registry, batches


def timed(registry: SpecRegistry, batches: list[Batch]) -> tuple[float, int, int]:
    """Seconds in ``Monitor.process`` over every batch, events judged, alerts raised."""
    monitor = Monitor(registry, MonitorConfig())
    elapsed, events, alerts = 0.0, 0, 0
    for accepted, positions in batches:
        started = time.perf_counter()
        outcome = monitor.process(accepted, positions)
        elapsed += time.perf_counter() - started
        events += len(accepted)
        alerts += len(outcome.alerts)
    return elapsed, events, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("events", type=Path)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    registry, batches = decoded(args.events, args.batch)
    runs = sorted(timed(registry, batches) for _ in range(args.repeat))
    elapsed, events, alerts = runs[len(runs) // 2]
    print(
        f"{events} events, batches of {args.batch}, {alerts} alerts: Monitor.process "
        f"{elapsed / events * 1e6:.2f} us/event (median of {args.repeat}; runs "
        + ", ".join(f"{r[0] / r[1] * 1e6:.2f}" for r in runs)
        + ")"
    )


if __name__ == "__main__":
    main()
