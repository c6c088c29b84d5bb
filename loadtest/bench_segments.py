"""Per-segment drift checks: false alarms on a stationary stream, and drift in one region.

A model whose spec segments by ``region`` (ten regions, ``r0`` 5% of the traffic, each with
its own mean of ``x0``: ``loadtest/segment_stream.py``) runs through a
``SegmentedModelMonitor`` at the default settings, no servers. ``--events`` stationary
events (default 1,000,000) count the segment and global alerts (the false-alarm budget is
shared over the 21 segment slots, so none is expected); then a 1 sigma shift of ``x1`` in
``r0`` alone (0.05 sigma of the whole stream) from event ``--drift-at`` must be caught in
``r0``'s segment and not globally.
Also reported: microseconds per event with and without segments, and the state's size.

Run: .venv/bin/python -m loadtest.bench_segments [--events 1000000] [--drift-events 400000]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from loadtest.segment_stream import segment_events, segment_spec
from streams.core.alerts.alert import Alert
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.segments.segmented_model_monitor import SegmentedModelMonitor


def run(count: int, *, segments: bool = True, drift_at: int | None = None):
    """Alerts, seconds in the monitor, state bytes and the monitor after ``count`` events."""
    spec, kind = segment_spec(), SegmentedModelMonitor
    if not segments:
        spec, kind = dataclasses.replace(spec, segments=()), ModelMonitor
    monitor = kind(spec, "v1", MonitorConfig())
    alerts: list[Alert] = []
    spent, offset = 0.0, 0
    for events in segment_events(count, drift_at=drift_at):
        positions = [(0, offset + i) for i in range(len(events))]
        offset += len(events)
        start = time.perf_counter()
        alerts += monitor.process(events, positions).alerts
        spent += time.perf_counter() - start
    return alerts, spent, len(json.dumps(monitor.snapshot())), monitor


def _describe(alert: Alert) -> str:
    where = (
        "global" if alert.segment is None else f"{alert.segment.attribute}={alert.segment.value}"
    )
    return f"{where} {alert.feature} {alert.detector} {alert.status} at {alert.trigger.offset}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--drift-events", type=int, default=400_000)
    parser.add_argument("--drift-at", type=int, default=200_000)
    args = parser.parse_args()

    alerts, spent, state, monitor = run(args.events)
    assert monitor.segments is not None and monitor.segments.settled is not None
    watching = len(monitor.segments.monitors)
    closed = sum(m.windows_closed for m in monitor.segments.monitors.values())
    print(f"stationary: {args.events} events, {watching} segments watched, {closed} segment "
          f"windows closed, {len(alerts)} alerts; {spent / args.events * 1e6:.1f} us/event "
          f"in the monitor; state {state} bytes")  # fmt: skip
    for alert in alerts:
        print("  ", _describe(alert))
    base_count = min(args.events, 200_000)
    _, base, base_state, _ = run(base_count, segments=False)
    print(f"without segments: {base / base_count * 1e6:.1f} us/event; state {base_state} bytes")
    drifted, _, _, _ = run(args.drift_events, drift_at=args.drift_at)
    print(f"drift in r0 (5% of traffic) from event {args.drift_at}:")
    for alert in drifted:
        print("  ", _describe(alert))
    caught = [a for a in drifted if a.segment is not None and a.segment.value == "r0"]
    failed = alerts or not caught or any(a.segment is None for a in drifted)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
