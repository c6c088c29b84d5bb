"""Chernoff bounds on upper tails, as base-10 logarithms of p-values.

An adversarial pattern is one source's count of hits far above what the rest of the
population's rate predicts. The exact binomial tail costs a sum over up to a window of
terms per source; the Chernoff bound ``P(X >= k) <= exp(-n KL(k/n || p))`` costs one
logarithm and is never smaller than the true tail, so a test on it fires no more often
than the exact test would: the false-alarm budget holds.
"""

from __future__ import annotations

import math

__all__ = ["binomial_tail_log10", "poisson_tail_log10"]

_LN10 = math.log(10)


def binomial_tail_log10(hits: int, trials: int, rate: float) -> float:
    """``-log10`` of a bound on ``P(Binomial(trials, rate) >= hits)``; 0 when ``hits`` is
    not above the mean.

    Examples
    --------
    >>> round(binomial_tail_log10(60, 100, 0.05), 1)
    49.7
    >>> binomial_tail_log10(4, 100, 0.05)
    0.0
    """
    if trials <= 0 or hits <= trials * rate:
        return 0.0
    if rate <= 0:
        return math.inf
    share = hits / trials
    divergence = share * math.log(share / rate)
    if share < 1:
        divergence += (1 - share) * math.log((1 - share) / (1 - rate))
    return trials * divergence / _LN10


def poisson_tail_log10(hits: int, mean: float) -> float:
    """``-log10`` of a bound on ``P(Poisson(mean) >= hits)``; 0 when ``hits`` is not above
    ``mean``.

    Examples
    --------
    >>> round(poisson_tail_log10(30, 2.0), 1)
    23.1
    >>> poisson_tail_log10(1, 2.0)
    0.0
    """
    if hits <= mean:
        return 0.0
    if mean <= 0:
        return math.inf
    return (mean - hits + hits * math.log(hits / mean)) / _LN10
