"""The stationary population a simulated stream samples from, and the model scoring it.

Everything here is derived from ``StreamConfig.seed`` alone, so two configs with the same seed
and feature counts describe the same population whatever their scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.simulation.config import StreamConfig

__all__ = [
    "CATEGORIES",
    "GROUPS",
    "SEGMENTS",
    "UNSEEN",
    "Population",
    "sample_groups",
    "sample_latency",
    "sample_segments",
]

CATEGORIES = ("a", "b", "c", "d", "e")
UNSEEN = "unseen"
"""The category a categorical drift may bring in; the base population never has it."""
SEGMENTS = ("web", "app", "store")
GROUPS = ("A", "B")

_SEGMENT_CDF = np.cumsum([0.5, 0.35, 0.15])
_GROUP_A = 0.6
_LATENCY_MEDIAN_MS = 8.0
_LATENCY_SIGMA = 0.4
_LOG_SIGMA = 0.75  # heavy enough that the lognormal feature's tail reaches ~10 std out
_WEIGHTS = np.array([1.2, -0.9, 0.7, 1.0])
_BIAS = -0.2


@dataclass(frozen=True, slots=True)
class Population:
    """Parameters of the base distributions, and sampling of a block of base values.

    ``mean`` and ``std`` are each numeric feature's population moments: scenarios shift and
    scale in these units and the model standardises with them.
    """

    mean: np.ndarray
    std: np.ndarray
    lognormal: int | None
    count: int | None
    log_mean: float
    count_rate: float
    category_cdf: np.ndarray
    rarest: np.ndarray
    model_columns: np.ndarray

    @classmethod
    def of(cls, config: StreamConfig) -> Population:
        """The population of ``config``'s stream."""
        rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(0,)))
        n = config.numeric_features
        mean = rng.uniform(-5.0, 5.0, n)
        std = rng.uniform(0.5, 3.0, n)
        cdf, rarest = _category_tables(rng, config.categorical_features)
        log_mean, count_rate = rng.uniform(0.0, 2.0), rng.uniform(3.0, 12.0)
        lognormal = count = None
        if config.lognormal_feature is not None:
            lognormal, count = n - 2, n - 1
            # Population moments of the lognormal and the Poisson, so drifts scale alike.
            mean[lognormal] = np.exp(log_mean + _LOG_SIGMA**2 / 2)
            std[lognormal] = mean[lognormal] * np.sqrt(np.expm1(_LOG_SIGMA**2))
            mean[count], std[count] = count_rate, np.sqrt(count_rate)
        return cls(
            mean=mean,
            std=std,
            lognormal=lognormal,
            count=count,
            log_mean=float(log_mean),
            count_rate=float(count_rate),
            category_cdf=cdf,
            rarest=rarest,
            model_columns=np.arange(len(config.model_features)),
        )

    def numeric(
        self, rng: np.random.Generator, count_rng: np.random.Generator, n: int
    ) -> np.ndarray:
        """``n`` rows of base numeric values, shape ``(n, features)``."""
        z = rng.standard_normal((n, self.mean.size))
        values = self.mean + self.std * z
        if self.lognormal is not None:
            values[:, self.lognormal] = np.exp(self.log_mean + _LOG_SIGMA * z[:, self.lognormal])
            values[:, self.count] = count_rng.poisson(self.count_rate, n)
        return values

    def categorical(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` rows of base category codes (indices into ``CATEGORIES``), int8."""
        u = rng.random((n, len(self.category_cdf)))
        codes = np.empty(u.shape, dtype=np.int8)
        for k, cdf in enumerate(self.category_cdf):
            codes[:, k] = np.searchsorted(cdf, u[:, k], side="right")
        return codes

    def score(self, numeric: np.ndarray) -> np.ndarray:
        """The model's score of each row; a missing input counts as its mean (mean imputation)."""
        cols = self.model_columns
        standard = (numeric[:, cols] - self.mean[cols]) / self.std[cols]
        logit = np.nan_to_num(standard, nan=0.0) @ _WEIGHTS[: cols.size] + _BIAS
        # 1 / (1 + exp(-logit)) in a form that cannot overflow on far-out (drifted) inputs.
        return np.exp(-np.logaddexp(0.0, -logit))


def sample_segments(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices into ``SEGMENTS``: web 50%, app 35%, store 15%."""
    return np.searchsorted(_SEGMENT_CDF, rng.random(n), side="right")


def sample_groups(rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices into ``GROUPS``: A 60%, B 40%."""
    return (rng.random(n) >= _GROUP_A).astype(np.intp)


def sample_latency(rng: np.random.Generator, n: int) -> np.ndarray:
    """Model latencies in milliseconds: lognormal around 8 ms, 2 decimals, always positive."""
    latency = rng.lognormal(np.log(_LATENCY_MEDIAN_MS), _LATENCY_SIGMA, n)
    return np.maximum(np.round(latency, 2), 0.01)


def _category_tables(rng: np.random.Generator, features: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative base probabilities per categorical feature, and each one's rarest code.

    Feature ``k`` has probabilities proportional to ``r_k ** rank`` with a distinct ``r_k`` in
    [0.5, 0.9), so no two features share a distribution and none is uniform; which category
    gets which rank is drawn from the seed.
    """
    cdf = np.empty((features, len(CATEGORIES)))
    rarest = np.empty(features, dtype=np.int8)
    for k in range(features):
        ratio = 0.5 + 0.4 * k / features
        ranks = rng.permutation(len(CATEGORIES))
        weights = ratio**ranks
        cdf[k] = np.cumsum(weights / weights.sum())
        rarest[k] = np.argmax(ranks)
    # Rounding can leave the last cumulative value a hair under 1 and let u land past it.
    cdf[:, -1] = 1.0
    return cdf, rarest
