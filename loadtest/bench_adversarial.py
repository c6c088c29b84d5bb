"""Adversarial alerts on 1M normal events, a hidden prober caught, and the cost per event.

Normal traffic: 1,000 clients (Zipf-like volumes, the heaviest ~2.5% of events), inputs
drawn from one distribution (``streams.simulation.probing``), through a ``ModelMonitor``
whose spec names ``source_attribute: client_id`` at the default ``AbuseConfig`` (windows of
10,000 events, 128 counters, alpha 0.01 per 1M events). Every ``adversarial`` alert there
is a false alarm. Then, per seed, the same traffic with one more client sending 2% of the
events from ``--attack-start`` on as near-duplicates walking one feature across the decision
threshold: the events from the attack's start to its first alert are reported. Last, the
cost per event of the monitor with and without the source attribute (same events).

Run: .venv/bin/python -m loadtest.bench_adversarial [--events 1000000] [--seeds 5]
"""

from __future__ import annotations

import argparse
import time

from streams.core.alerts.alert import Alert
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.simulation.probing import FEATURES, PROBER, ProbingConfig, probing_events

BATCH = 5000
KEY = b"bench-key-bench-key"


def spec(source: bool) -> ModelSpec:
    features = {name: FeatureSpec("number") for name in FEATURES}
    return ModelSpec("probed", features, source_attribute="client_id" if source else None)


def run(config: ProbingConfig, count: int, *, source: bool = True) -> tuple[list[Alert], float]:
    """The adversarial alerts of ``count`` events and the seconds the monitor spent."""
    monitor = ModelMonitor(spec(source), "v1", MonitorConfig(), pii=PiiPolicy(key=KEY))
    alerts: list[Alert] = []
    busy = 0.0
    for lo in range(0, count, BATCH):
        events = probing_events(config, lo, min(count, lo + BATCH))
        started = time.perf_counter()
        outcome = monitor.process(events, [(0, i) for i in range(lo, lo + len(events))])
        busy += time.perf_counter() - started
        alerts += [a for a in outcome.alerts if a.type == "adversarial"]
    assert monitor.windows_closed == (count - 5000) // 1000, "windows not closed as planned"
    assert source is False or monitor.abuse is not None
    return alerts, busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--attack-start", type=int, default=100_000)
    args = parser.parse_args()
    alerts, busy = run(ProbingConfig(seed=1), args.events)
    print(f"normal traffic: {args.events:,} events, {len(alerts)} adversarial alerts "
          f"({busy / args.events * 1e6:.1f} us/event in the monitor)")  # fmt: skip
    for alert in alerts:
        print("  false alarm:", alert.message)
    prober = PiiPolicy(key=KEY).redact(PROBER)
    for seed in range(1, args.seeds + 1):
        config = ProbingConfig(seed=seed, attack_share=0.02, attack_start=args.attack_start)
        caught, _ = run(config, args.attack_start + 60_000)
        first = {a.adversarial["pattern"]: a.trigger.offset for a in reversed(caught)
                 if a.status == "firing" and a.adversarial["source"] == prober}  # fmt: skip
        others = sum(a.adversarial["source"] != prober for a in caught)
        delays = {p: offset + 1 - args.attack_start for p, offset in sorted(first.items())}
        print(f"seed {seed}: prober caught {delays or 'NOT CAUGHT'} events after the start; "
              f"{others} alerts on other sources")  # fmt: skip
    count = min(args.events, 200_000)
    _, plain = run(ProbingConfig(seed=1), count, source=False)
    _, tracked = run(ProbingConfig(seed=1), count)
    print(f"cost: {plain / count * 1e6:.1f} us/event without source_attribute, "
          f"{tracked / count * 1e6:.1f} with ({count:,} events)")  # fmt: skip


if __name__ == "__main__":
    main()
