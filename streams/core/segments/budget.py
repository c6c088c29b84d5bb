"""Thresholds for a share of the false-alarm budget: what per-segment detectors judge by.

A model version's detectors are set for a budget of false alarms (CUSUM's ``h`` for 1% per
model per 1,000,000 events, ``detectors/cusum.py``; the rate detectors at ``z`` standard
errors; PSI and ADWIN at thresholds whose chance under no drift is tiny). Watching ``K``
segments and the pooled rest as well multiplies the looks: so each segment's detectors get
``1 / parts`` of each detector's per-look false-alarm chance (a union bound, as the label
side's ``AlertBudget`` spends its budget). How a threshold maps to that chance, per detector:

- rate detectors (``RateConfig``): ``z`` is a one-sided normal critical value;
- ``adwin``: its threshold (standard errors of a block mean) is a two-sided critical value
  of its estimate at ``min_blocks`` blocks, the least it judges;
- ``psi``: ``PSI ~ (1/n + 1/m) chi2(bins - 1)`` under no drift (window ``n``, reference
  ``m``, the default 10 bins), through Wilson and Hilferty's normal approximation;
- ``cusum``: Siegmund's approximation over the reference's error
  (``detectors/cusum_budget.py``), at the calibration's 10,000 blocks.

A detector with none of these configs (one added since) keeps its threshold: give it a
mapping here. Thresholds set in a model spec's ``detectors`` go over these, as given.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from statistics import NormalDist

from streams.core.detectors import DetectorConfig, DetectorConfigs
from streams.core.detectors.adwin_mean_shift import AdwinMeanShiftConfig
from streams.core.detectors.base import RateConfig
from streams.core.detectors.block_means import BLOCK_EVENTS
from streams.core.detectors.cusum import CusumConfig
from streams.core.detectors.cusum_budget import Reference, false_alarm_probability, threshold_for
from streams.core.detectors.psi import PsiConfig
from streams.core.drift.profile import DEFAULT_BINS

__all__ = ["split_configs", "split_z"]

_NORMAL = NormalDist()
#: The stream CUSUM's budget is stated over: 1,000,000 events in blocks of 100.
_CUSUM_BLOCKS = 1_000_000 // BLOCK_EVENTS


def split_z(z: float, parts: int) -> float:
    """The critical value whose tail is ``1 / parts`` of ``z``'s (one- or two-sided alike).

    >>> round(split_z(6.0, 21), 2), split_z(6.0, 1)
    (6.48, 6.0)
    """
    if parts == 1:
        return z
    tail = 0.5 * math.erfc(z / math.sqrt(2))  # 1 - cdf(z), exact far out where cdf is 1.0
    if tail == 0.0:  # past doubles: the normal tail is ~exp(-z^2 / 2)
        return math.sqrt(z * z + 2 * math.log(parts))
    return -_NORMAL.inv_cdf(tail / parts)


# Every model version with segments asks for the same few splits (CUSUM's takes ~0.1 s).
@lru_cache(maxsize=64)
def split_configs(
    configs: DetectorConfigs, parts: int, *, window_events: int, reference_events: int
) -> DetectorConfigs:
    """``configs`` with every known threshold raised to ``1 / parts`` of its false-alarm
    chance, for windows of ``window_events`` judged against ``reference_events``."""
    if parts < 1:
        raise ValueError("parts must be positive")
    return DetectorConfigs(
        {
            name: _split(config, parts, window_events, reference_events)
            for name, config in configs.items()
        }
    )


def _split(config: DetectorConfig, parts: int, window: int, reference: int) -> DetectorConfig:
    if parts == 1:
        return config
    if isinstance(config, RateConfig):
        return dataclasses.replace(config, z=split_z(config.z, parts))
    if isinstance(config, AdwinMeanShiftConfig):
        root = math.sqrt(config.min_blocks)
        z = split_z(config.threshold * root, parts)  # two-sided: the 2s cancel
        return dataclasses.replace(config, threshold=z / root)
    if isinstance(config, PsiConfig):
        return dataclasses.replace(config, threshold=_psi_threshold(config.threshold, parts,
                                                                    window, reference))  # fmt: skip
    if isinstance(config, CusumConfig):
        return dataclasses.replace(config, threshold=_cusum_threshold(config, parts, reference))
    return config


def _psi_threshold(threshold: float, parts: int, window: int, reference: int) -> float:
    scale = 1 / window + 1 / reference
    df = DEFAULT_BINS - 1
    spread = math.sqrt(2 / (9 * df))
    z = ((threshold / scale / df) ** (1 / 3) - (1 - 2 / (9 * df))) / spread
    raised = split_z(z, parts)
    return scale * df * (1 - 2 / (9 * df) + raised * spread) ** 3


def _cusum_threshold(config: CusumConfig, parts: int, reference_events: int) -> float:
    reference = Reference(block_events=BLOCK_EVENTS, reference_events=reference_events)
    k, h = config.k, config.threshold
    alpha = false_alarm_probability(k, h, _CUSUM_BLOCKS, reference)
    raised = threshold_for(k, alpha / parts, _CUSUM_BLOCKS, reference) if alpha > 0 else None
    if raised is None:
        # Beyond the approximation's reach: the run length grows as exp(2 k h), so a
        # 1 / parts share of the chance costs ln(parts) / 2k more (k = 0: h grows by parts).
        return h + math.log(parts) / (2 * k) if k > 0 else h * parts
    return max(raised, h)
