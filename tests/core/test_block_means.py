"""Block means of heavy-tailed features stay near normal; ADWIN on them flags a real shift."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.core.detectors.adwin_mean_shift import AdwinMeanShift, AdwinMeanShiftConfig
from streams.core.detectors.base import Watched
from streams.core.detectors.block_means import BlockMeans


class Online:
    """Block means of every feature, each fed to its ADWIN, as the model monitor does."""

    def __init__(self, reference: np.ndarray, config: AdwinMeanShiftConfig | None = None,
                 **blocks) -> None:  # fmt: skip
        self.names = tuple(f"f{j}" for j in range(reference.shape[1]))
        self.blocks = BlockMeans(self.names, reference.mean(axis=0), reference.std(axis=0),
                                 **blocks)  # fmt: skip
        self.adwins = {n: AdwinMeanShift(config or AdwinMeanShiftConfig()) for n in self.names}

    def add(self, rows: np.ndarray) -> None:
        for name, means in self.blocks.add(rows).items():
            self.adwins[name].update(np.array(means))

    def shifts(self) -> dict[str, float]:
        return {name: adwin.verdict().value for name, adwin in self.adwins.items()}


def heavy_tailed(rng, n):
    # Normal, lognormal and Poisson counts: ADWIN on raw values re-alarms on the last two.
    return np.column_stack(
        [rng.normal(3, 2, n), rng.lognormal(0, 0.75, n), rng.poisson(4, n).astype(float)]
    )


def test_block_means_keep_heavy_tailed_features_quiet():
    rng = np.random.default_rng(2)
    online = Online(heavy_tailed(rng, 20_000))
    worst = 0.0
    for _ in range(200):  # 200,000 events
        online.add(heavy_tailed(rng, 1000))
        worst = max(worst, *online.shifts().values())
    assert worst < 2.0


def test_a_half_sigma_shift_stands_out():
    rng = np.random.default_rng(3)
    online = Online(heavy_tailed(rng, 20_000))
    online.add(heavy_tailed(rng, 5_000))
    shifted = heavy_tailed(rng, 3_000)
    shifted[:, 0] += 1.0  # half of that feature's standard deviation
    online.add(shifted)
    shifts = online.shifts()
    assert shifts["f0"] > 4.0
    assert shifts["f1"] < 2.0 and shifts["f2"] < 2.0


def test_missing_values_are_left_out_of_block_means():
    blocks = BlockMeans(("a",), np.array([0.0]), np.array([1.0]), block_events=10)
    assert blocks.add(np.array([[np.nan]] * 10)) == {"a": []}
    assert blocks.add(np.array([[1.0]] * 25)) == {"a": [pytest.approx(10**0.5)] * 2}


def test_restore_continues_identically():
    rng = np.random.default_rng(4)
    reference = heavy_tailed(rng, 5_000)
    first, second = Online(reference), Online(reference)
    data = heavy_tailed(rng, 3_050)
    first.add(data[:1_550])
    blocks = first.blocks
    second.blocks = BlockMeans.restore(
        json.loads(json.dumps(blocks.snapshot())), blocks.names, blocks.mean, blocks.scale
    )
    watched = Watched("numeric_feature", None, mean=0.0, scale=1.0)
    for name, adwin in first.adwins.items():
        stored = json.loads(json.dumps(adwin.snapshot()))
        second.adwins[name] = AdwinMeanShift.restore(stored, adwin.config, watched)
    first.add(data[1_550:])
    second.add(data[1_550:])
    assert first.shifts() == second.shifts()


@pytest.mark.parametrize(
    "kwargs", [{"delta": 0}, {"min_blocks": 0}, {"max_blocks": 5}, {"threshold": 0}]
)
def test_bad_parameters_fail_fast(kwargs):
    with pytest.raises(ValueError):
        AdwinMeanShiftConfig(**kwargs)
    with pytest.raises(ValueError):
        BlockMeans(("a",), np.zeros(1), np.ones(1), block_events=1)


def test_memory_stays_bounded_on_a_long_stationary_stream():
    rng = np.random.default_rng(6)
    online = Online(rng.normal(0, 1, (1000, 1)), AdwinMeanShiftConfig(max_blocks=50),
                    block_events=2)  # fmt: skip
    sizes = []
    for _ in range(40):
        online.add(rng.normal(0, 1, (100, 1)))
        sizes.append(len(json.dumps(online.adwins["f0"].snapshot())))
    assert max(sizes[10:]) <= max(sizes[:10]) * 1.1
