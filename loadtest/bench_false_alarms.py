"""False alarms and detection delay of the default detectors on simulated streams, no servers.

Runs stationary streams (20 numeric + 4 categorical features, the heavy-tailed and discrete
ones included; one per stationary seed) through ingestion and the monitor with default
settings and counts alerts; then, per seed, an abrupt 0.5 sigma shift and a gradual one
(0.5 sigma over 10,000 events) and reports how many events after the onset each was caught,
and by which detector.

Every run is checked before it is reported (``loadtest/work_done.py``): all events accepted,
the reference built, the windows due closed, and each shift caught; otherwise it fails (a run
where everything was dead-lettered would show 0 false alarms).

Run: .venv/bin/python -m loadtest.bench_false_alarms [--events 1000000] [--seeds 10]
     [--stationary-seeds 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import orjson

from loadtest.work_done import Plan, WorkNotDone, from_monitor
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.alerts.alert import Alert
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records


def monitor(
    config: StreamConfig, count: int, registry: SpecRegistry | None = None
) -> tuple[list[Alert], float, tuple[int, int]]:
    """Alerts, seconds spent in ingestion + monitoring, and the stored state's size in bytes
    (per-batch snapshot, profile) of the stream's one model version; ``WorkNotDone`` unless
    every event was accepted and judged as planned."""
    registry = registry or SpecRegistry(warmup_events=200)
    ingestor, watcher = Ingestor(EventDecoder(), registry), Monitor(registry, MonitorConfig())
    alerts: list[Alert] = []
    busy, accepted, rejected = 0.0, 0, 0
    for chunk in generate_events(config, count):
        records = raw_records(config, chunk)
        started = time.perf_counter()
        result = ingestor.ingest(records)
        alerts.extend(watcher.process(result.accepted, result.positions).alerts)
        busy += time.perf_counter() - started
        accepted, rejected = accepted + len(result.accepted), rejected + len(result.rejected)
    plan = Plan({config.model_id: count}, warmup_events=registry.warmup_events)
    observed = from_monitor(watcher, {config.model_id: accepted}, rejected)
    observed.check(plan, f"seed {config.seed}, {count:,} events")
    (state,) = watcher.monitors.values()
    assert state.profile is not None
    sizes = len(orjson.dumps(state.snapshot())), len(orjson.dumps(state.profile.to_dict()))
    return alerts, busy, sizes


def _stationary(events: int, seeds: int) -> None:
    _, _, (early_snapshot, early_profile) = monitor(StreamConfig(seed=101), 200_000)
    for seed in range(101, 101 + seeds):
        alerts, busy, (snapshot, profile) = monitor(StreamConfig(seed=seed), events)
        kinds = Counter((a.type, a.detector, a.status) for a in alerts)
        print(
            f"stationary seed {seed}: {events} events x 24 features: {len(alerts)} alerts "
            f"{dict(kinds)}; ingest + monitor {busy / events * 1e6:.1f} us/event",
            flush=True,
        )
    print(
        f"state of the model version after 200,000 / {events:,} events: snapshot "
        f"{early_snapshot:,} / {snapshot:,} bytes, profile {early_profile:,} / {profile:,} "
        f"bytes (26 watched columns: {(snapshot + profile) / 26:,.0f} bytes each)"
    )


def _drifts(kind: str, seeds: int) -> list[int | None]:
    """Per seed, the delay from onset to the first drift alert on x7 (None: missed)."""
    delays = []
    for seed in range(seeds):
        drift_at = 20_000 + 211 * seed  # changes at different points of a window
        scenario = (
            Scenario(kind="abrupt", feature="x7", start=drift_at, magnitude=0.5)
            if kind == "abrupt"
            else Scenario(
                kind="gradual", feature="x7", start=drift_at, magnitude=0.5, duration=10_000
            )
        )
        length = drift_at + (5_000 if kind == "abrupt" else 10_000)
        alerts, _, _ = monitor(StreamConfig(seed=seed, scenarios=(scenario,)), length)
        caught = [a for a in alerts if a.feature == "x7" and a.status == "firing"]
        others = [a for a in alerts if a.feature != "x7" and a.type == "data_drift"]
        early = [a for a in caught if a.trigger.offset < drift_at]
        delay = caught[0].trigger.offset - drift_at if caught and not early else None
        delays.append(delay)
        print(
            f"seed {seed}: {kind} 0.5 sigma caught after {delay} events by "
            f"{caught[0].detector if caught else None}; drift alerts on other features: "
            f"{len(others)}, on x7 before the onset: {len(early)}",
            flush=True,
        )
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--stationary-seeds", type=int, default=10)
    args = parser.parse_args()
    _stationary(args.events, args.stationary_seeds)
    missed = 0
    for kind in ("abrupt", "gradual"):
        delays = _drifts(kind, args.seeds)
        caught = sorted(d for d in delays if d is not None)
        missed += len(delays) - len(caught)
        print(
            f"{kind} 0.5 sigma: caught {len(caught)}/{len(delays)}, delays {caught} "
            f"(median {caught[len(caught) // 2] if caught else None})"
        )
    if missed:
        raise WorkNotDone(f"{missed} drifts never caught (or caught before their onset)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
