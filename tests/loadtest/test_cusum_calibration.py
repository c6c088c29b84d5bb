"""CUSUM's defaults are the calibration's answer, and the approximation behind it holds."""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.cusum_calibration import (
    Reference,
    false_alarm_probability,
    ramp_delays,
    simulated_false_alarms,
    threshold_for,
)
from streams.core.detectors.cusum import CusumConfig

BUDGET = 0.01 / 20  # 1% per model per 1,000,000 events, shared by 20 numeric features
BLOCKS = 10_000  # 1,000,000 events in blocks of 100


def test_the_default_threshold_is_the_smallest_that_meets_the_budget():
    config = CusumConfig()
    assert threshold_for(config.k, BUDGET, BLOCKS, Reference()) == config.threshold
    assert false_alarm_probability(config.k, config.threshold, BLOCKS, Reference()) <= BUDGET
    assert false_alarm_probability(config.k, config.threshold - 0.5, BLOCKS, Reference()) > BUDGET


def test_an_allowance_under_the_reference_error_meets_no_budget():
    # The reference mean is off by N(0, 0.14) standard errors: k = 0.4 is under 3 of them.
    assert threshold_for(0.4, BUDGET, BLOCKS, Reference()) is None
    assert threshold_for(0.4, BUDGET, BLOCKS, Reference(reference_events=100_000)) is not None


@pytest.mark.parametrize(("k", "h"), [(0.5, 6.0), (0.8, 4.0)])
def test_siegmund_agrees_with_a_simulation_where_alarms_can_be_counted(k, h):
    predicted = false_alarm_probability(k, h, 1000, Reference())
    simulated = simulated_false_alarms(k, h, 1000, Reference(), runs=3000)
    assert 0.05 < simulated < 0.95
    assert predicted == pytest.approx(simulated, abs=0.04)


def test_the_calibrated_cusum_catches_the_ramp_after_its_onset():
    delays = ramp_delays(CusumConfig().k, CusumConfig().threshold, Reference(), runs=500)
    caught = delays[np.isfinite(delays)]
    assert len(caught) == len(delays) and caught.min() > 0
    assert 3_500 <= np.median(caught) <= 5_000
