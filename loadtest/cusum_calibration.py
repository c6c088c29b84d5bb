"""Where the CUSUM detector's allowance ``k`` and threshold ``h`` come from, no servers.

The detector (``streams/core/detectors/cusum.py``) sums standardised block means: the mean
of 100 events minus the reference mean, over the reference standard deviation / 10. Were the
reference exact these would be N(0, 1) under no drift. It is not: it is estimated from
``reference_events`` events, so for one feature the whole stream is judged against a mean
off by ``d ~ N(0, block / reference)`` standard errors (0.14 for 100 / 5,000) and a scale
off by a factor ``r`` (its spread set by the feature's kurtosis). Conditional on (d, r), the
block means are N(d, r^2): a CUSUM whose allowance does not exceed the ``d`` it may meet
walks without drift and false-alarms at last, however high ``h`` is.

So the false-alarm probability of one feature over a stream of ``blocks`` blocks is
Siegmund's approximation of each side's average run length (ARL0, for increments N(mu, 1):
``(exp(-2 mu b) + 2 mu b - 1) / (2 mu^2)``, ``b = h + 1.166``), taken at mu = (+-d - k) / r
and h / r, turned into ``1 - exp(-blocks / ARL0)`` and averaged over the reference's errors
(Gauss-Hermite over d, three points over r). ``h`` is the smallest threshold whose
probability is within the budget: by default 1% per model per 1,000,000 events, shared by
its 20 numeric features (5e-4 each over 10,000 blocks). A Monte Carlo run checks the
approximation where its probability is large enough to count.

``k`` is then chosen for the drift the detector is for: a gradual 0.5 sigma over 10,000
events mean drift (block means rising by 1 standard error per 2,000 events), judged at the
end of each 1,000-event window as the monitor does, onset at a random point of a window.
Each k is given its h and the delays are simulated; the table shows the trade-off.

Run: .venv/bin/python -m loadtest.cusum_calibration [--budget 0.01] [--reference 5000]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from streams.core.detectors.cusum_budget import (
    Reference,
    false_alarm_probability,
    threshold_for,
)

__all__ = ["Reference", "false_alarm_probability", "ramp_delays", "simulated_false_alarms",
           "threshold_for"]  # fmt: skip


def _reference_errors(
    rng: np.random.Generator, runs: int, reference: Reference
) -> tuple[np.ndarray, np.ndarray]:
    return (
        rng.normal(0.0, reference.mean_error, runs),
        rng.normal(1.0, reference.scale_error, runs),
    )


def simulated_false_alarms(
    k: float, h: float, blocks: int, reference: Reference, *, runs: int = 4000, seed: int = 0
) -> float:
    """Monte Carlo share of features alarming within ``blocks`` (checked every block, as
    Siegmund's approximation assumes), with their reference errors drawn per run."""
    rng = np.random.default_rng(seed)
    d, r = _reference_errors(rng, runs, reference)
    upper, lower = np.zeros(runs), np.zeros(runs)
    alarmed = np.zeros(runs, dtype=bool)
    for _ in range(blocks):
        z = d + r * rng.standard_normal(runs)
        upper = np.maximum(0.0, upper + z - k)
        lower = np.maximum(0.0, lower - z - k)
        alarmed |= np.maximum(upper, lower) > h
    return float(alarmed.mean())


def ramp_delays(
    k: float,
    h: float,
    reference: Reference,
    *,
    sigmas: float = 0.5,
    duration: int = 10_000,
    window_events: int = 1000,
    runs: int = 4000,
    seed: int = 1,
) -> np.ndarray:
    """Events from onset to the end of the window at which the CUSUM first stands over h
    (inf: not within 3 x duration); 200 stationary blocks run before the onset."""
    rng = np.random.default_rng(seed)
    d, r = _reference_errors(rng, runs, reference)
    per_window = window_events // reference.block_events
    phase = rng.integers(0, per_window, runs)  # blocks from a window's end to the onset
    upper, lower = np.zeros(runs), np.zeros(runs)
    delay = np.full(runs, np.inf)
    slope = sigmas / duration * math.sqrt(reference.block_events)  # SE per event
    for block in range(-200, 3 * duration // reference.block_events):
        middle = (block + 0.5) * reference.block_events
        shift = slope * min(max(middle, 0.0), duration)
        z = d + r * rng.standard_normal(runs) + shift
        upper = np.minimum(2 * h, np.maximum(0.0, upper + z - k))
        lower = np.minimum(2 * h, np.maximum(0.0, lower - z - k))
        closes = (block + phase + 1) % per_window == 0
        seen = closes & np.isinf(delay) & (np.maximum(upper, lower) > h)
        delay[seen] = (block + 1) * reference.block_events
    return delay


def _describe(delays: np.ndarray) -> str:
    caught = delays[np.isfinite(delays) & (delays > 0)]
    early = int(np.sum(delays <= 0))
    if not len(caught):
        return "never"
    p10, p50, p90 = np.percentile(caught, [10, 50, 90])
    within = float(np.mean(np.isfinite(delays) & (delays > 0) & (delays <= 3000)))
    return (
        f"median {p50:,.0f} (p10 {p10:,.0f}, p90 {p90:,.0f}); within 3,000: {within:.0%}; "
        f"before onset: {early}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=0.01,
        help="false-alarm probability per model per --events (default 0.01)",
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20, help="numeric features per model")
    parser.add_argument("--reference", type=int, default=5000, help="reference events")
    parser.add_argument("--k", type=float, nargs="*",
                        default=[0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])  # fmt: skip
    args = parser.parse_args()
    reference = Reference(reference_events=args.reference)
    blocks = args.events // reference.block_events
    alpha = args.budget / args.features
    print(
        f"budget {args.budget:g} per model per {args.events:,} events = {alpha:.2g} per feature "
        f"over {blocks:,} blocks; reference {args.reference:,} events: mean error "
        f"{reference.mean_error:.3f} SE, scale error {reference.scale_error:.3f}"
    )
    for k in args.k:
        h = threshold_for(k, alpha, blocks, reference)
        if h is None:
            print(f"k={k:.2f}: no threshold meets the budget")
            continue
        print(f"k={k:.2f} h={h:.2f}: 0.5 sigma / 10,000 ramp "
              f"{_describe(ramp_delays(k, h, reference))}")  # fmt: skip
    # The approximation against a simulation, at thresholds low enough to count alarms.
    for k, h in ((0.5, 6.0), (0.7, 5.0)):
        predicted = false_alarm_probability(k, h, 2000, reference)
        simulated = simulated_false_alarms(k, h, 2000, reference)
        print(f"check k={k} h={h}, 2,000 blocks: Siegmund {predicted:.3f}, "
              f"simulated {simulated:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
