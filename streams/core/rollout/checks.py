"""Two versions' tallies compared, one question at a time: each check says pass, fail or
inconclusive with its statistic, threshold and evidence.

A check fails only when the difference is both statistically clear (at ``alpha``) and larger
than its tolerance, so a large canary does not fail on a negligible difference; it passes
when the difference is within the tolerance with enough events; otherwise (too few events,
or a difference beyond the tolerance that chance could still explain) it is inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from streams.core.labels.metric_estimates import Estimate, difference_interval
from streams.core.rollout.tally import Tally

__all__ = [
    "Check",
    "Outcome",
    "accuracy_check",
    "kolmogorov_p",
    "latency_check",
    "rate_check",
    "score_check",
]

Outcome = Literal["pass", "fail", "inconclusive"]
_EQUIVALENCE_ALPHA = 0.1


@dataclass(frozen=True, slots=True)
class Check:
    """One comparison of candidate with baseline."""

    name: str
    outcome: Outcome
    statistic: str
    value: float
    threshold: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "statistic": self.statistic,
                "value": _finite(self.value), "threshold": self.threshold,
                "evidence": self.evidence}  # fmt: skip


def kolmogorov_p(d: float, n: float) -> float:
    """Asymptotic p-value of a two-sample KS distance ``d`` at effective size ``n``.

    >>> round(kolmogorov_p(0.1, 500), 4), round(kolmogorov_p(0.02, 500), 4)
    (0.0001, 0.9875)
    """
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    if lam < 0.2:
        return 1.0
    terms = (2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, max(0.0, float(sum(terms))))


def score_check(base: Tally, cand: Tally, *, min_events: int, alpha: float,
                tolerance: float) -> Check:  # fmt: skip
    """The score distributions: Kolmogorov-Smirnov distance between the binned CDFs (binning
    only makes it smaller, so the test stays conservative)."""
    n1, n2 = int(base.scores.sum()), int(cand.scores.sum())
    sizes = {"baseline": n1, "candidate": n2}
    if min(n1, n2) < min_events:
        return Check("score_distribution", "inconclusive", "ks_distance", math.nan, tolerance,
                     {"events": sizes, "reason": "too few scored events"})  # fmt: skip
    distance = float(np.abs(np.cumsum(base.scores) / n1 - np.cumsum(cand.scores) / n2).max())
    p_value = kolmogorov_p(distance, n1 * n2 / (n1 + n2))
    outcome: Outcome = (
        "fail" if p_value < alpha and distance > tolerance else
        "pass" if distance <= tolerance else "inconclusive"
    )  # fmt: skip
    return Check("score_distribution", outcome, "ks_distance", distance, tolerance,
                 {"events": sizes, "p_value": p_value})  # fmt: skip


def rate_check(name: str, base: tuple[int, int], cand: tuple[int, int], *, min_events: int,
               alpha: float, tolerance: float) -> Check:  # fmt: skip
    """A rate (successes, trials) of candidate minus baseline, with Newcombe's interval."""
    sizes = {"baseline": base[1], "candidate": cand[1]}
    if min(base[1], cand[1]) < min_events:
        return Check(name, "inconclusive", "difference", math.nan, tolerance,
                     {"events": sizes, "reason": "too few events"})  # fmt: skip
    rates = (base[0] / base[1], cand[0] / cand[1])
    estimates = (Estimate(rates[1], cand[1]), Estimate(rates[0], base[1]))
    low, high = difference_interval(*estimates, NormalDist().inv_cdf(1 - alpha / 2))
    # Equivalence (two one-sided tests at 5%): the 90% interval within the tolerance.
    near = difference_interval(*estimates, NormalDist().inv_cdf(1 - _EQUIVALENCE_ALPHA / 2))
    difference = rates[1] - rates[0]
    clear = low > 0 or high < 0
    outcome: Outcome = (
        "fail" if clear and abs(difference) > tolerance else
        "pass" if -tolerance <= near[0] and near[1] <= tolerance else "inconclusive"
    )  # fmt: skip
    return Check(name, outcome, "difference", difference, tolerance,
                 {"events": sizes, "baseline": rates[0], "candidate": rates[1],
                  "interval": [low, high]})  # fmt: skip


def accuracy_check(base: Tally, cand: Tally, *, min_labels: int, alpha: float,
                   tolerance: float) -> Check:  # fmt: skip
    """Accuracy on the labelled predictions, candidate minus baseline (Newcombe's interval):
    only a drop fails, and a gain beyond the tolerance is inconclusive, never a pass.

    >>> base, cand = Tally(), Tally()
    >>> base.labelled, base.correct, cand.labelled, cand.correct = 1000, 900, 1000, 620
    >>> found = accuracy_check(base, cand, min_labels=200, alpha=0.001, tolerance=0.05)
    >>> found.outcome, round(found.value, 2)
    ('fail', -0.28)
    >>> accuracy_check(cand, base, min_labels=200, alpha=0.001, tolerance=0.05).outcome
    'inconclusive'
    """
    found = rate_check("accuracy", (base.correct, base.labelled), (cand.correct, cand.labelled),
                       min_events=min_labels, alpha=alpha, tolerance=tolerance)  # fmt: skip
    if found.outcome == "fail" and found.value > 0:
        return replace(found, outcome="inconclusive")
    return found


def latency_check(base: Tally, cand: Tally, *, min_events: int, max_ratio: float) -> Check:
    """``latency_ms`` p50 and p99: the candidate's over the baseline's, the larger ratio
    judged (by bins 1.26 wide, so a ratio under that is noise of the binning)."""
    n1, n2 = int(base.latencies.sum()), int(cand.latencies.sum())
    sizes = {"baseline": n1, "candidate": n2}
    if min(n1, n2) < min_events:
        return Check("latency", "inconclusive", "latency_ratio", math.nan, max_ratio,
                     {"events": sizes, "reason": "too few events with latency_ms"})  # fmt: skip
    quantiles = {
        f"p{round(q * 100)}": (base.latency_quantile(q), cand.latency_quantile(q))
        for q in (0.5, 0.99)
    }
    ratio = max(c / b for b, c in quantiles.values())
    evidence = {"events": sizes, **{f"{k}_ms": list(v) for k, v in quantiles.items()}}
    outcome: Outcome = "fail" if ratio > max_ratio else "pass"
    return Check("latency", outcome, "latency_ratio", ratio, max_ratio, evidence)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
