"""How fast any test could catch ``bench_performance_alerts``' label falls: the oracle's delays.

The oracle knows what no monitor can: the true calibration of the simulated model (a label
is positive with probability ``base_flip + (1 - 2 base_flip) score``) and the exact share of
labels flipped from the change on. Its CUSUM of each label's log likelihood ratio is the
quickest detector of that change at a given false-alarm rate (Lorden; Moustakides). Its
threshold spends the same share of the budget as each of the monitor's 8 tests a look
(``AlertBudget``), by Siegmund's approximation for the exact rates (``theta`` = 1). It
starts at 0 at the change; the delays are in labels, label by label (the monitor's are
multiples of 50, the clock its CUSUMs are looked at).

Where the oracle itself misses "within N labels" in some share of falls, a target met in
every one of 10 seeds is partly luck for any test held to the budget.

Run: .venv/bin/python -m loadtest.label_delay_bound [--falls 2000] [--base-flip 0.278]
"""

from __future__ import annotations

import argparse

import numpy as np

from loadtest.bench_performance_alerts import ACCURACY_FALL, AUC_FLIP
from streams.core.labels.alert_budget import AlertBudget
from streams.core.online.siegmund import siegmund_arl, smallest_threshold
from streams.simulation import StreamConfig, generate_events

_TESTS_PER_LOOK = 8  # the performance monitor's, for classification
_LONGEST = 20_000


def oracle_delays(scores: np.ndarray, rate: np.ndarray, flip: float, falls: int,
                  seed: int) -> tuple[np.ndarray, float]:  # fmt: skip
    """Delays of ``falls`` simulated falls, and the threshold they were held to."""
    fallen = (1 - flip) * rate + flip * (1 - rate)
    up, down = np.log(fallen / rate), np.log((1 - fallen) / (1 - rate))
    mean = float(np.mean(rate * up + (1 - rate) * down))
    sigma = float(np.sqrt(np.mean(rate * up**2 + (1 - rate) * down**2) - mean**2))
    budget = AlertBudget(0.01, 1_000_000, 250, _TESTS_PER_LOOK)
    share = budget.alpha_at(0) * budget.looks_per_block
    h = smallest_threshold(
        lambda h: float(-np.expm1(-budget.budget_labels / siegmund_arl(-sigma / 2, h / sigma))),
        share, high=1000.0, step=0.005,
    )  # fmt: skip
    assert h is not None
    rng = np.random.default_rng(seed)
    delays = np.full(falls, _LONGEST + 1)
    # Every fall at once, label by label: the sums of the falls not caught yet.
    value, open_ = np.zeros(falls), np.ones(falls, dtype=bool)
    for label in range(1, _LONGEST + 1):
        pick = rng.integers(0, len(scores), falls)
        positive = rng.random(falls) < fallen[pick]
        value = np.maximum(0.0, value + np.where(positive, up[pick], down[pick]))
        caught = open_ & (value > h)
        delays[caught], open_ = label, open_ & ~caught
        if not open_.any():
            break
    return delays, h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--falls", type=int, default=2000)
    parser.add_argument("--base-flip", type=float, default=0.278)
    args = parser.parse_args()
    scores = np.concatenate([c.score for c in generate_events(StreamConfig(seed=99), 200_000)])
    rate = args.base_flip + (1 - 2 * args.base_flip) * scores
    accuracy = float(np.mean(np.maximum(rate, 1 - rate)))  # the Bayes-optimal prediction's
    kinds = {"auc": (AUC_FLIP, 1_000), "accuracy": (ACCURACY_FALL / (2 * accuracy - 1), 5_000)}
    for kind, (flip, limit) in kinds.items():
        delays, h = oracle_delays(scores, rate, flip, args.falls, seed=1)
        q = np.percentile(delays, [50, 90, 99]).astype(int).tolist()
        late = float(np.mean(delays > limit))
        print(f"{kind} fall (flip {flip:.3f}), oracle h {h}: mean {delays.mean():.0f}, median "
              f"{q[0]}, p90 {q[1]}, p99 {q[2]}, max {delays.max()}; past {limit:,}: "
              f"{late:.1%} of falls, so one of 10 seeds past it with chance "
              f"{1 - (1 - late) ** 10:.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
