"""Applying a ``Scenario`` to one block of simulated values, in place and vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streams.simulation.population import CATEGORIES, Population
from streams.simulation.scenario import Scenario

__all__ = ["Block", "apply_scenario"]

UNSEEN_CODE = len(CATEGORIES)
_RAREST_SHARE = 0.8  # of drifted categorical values; the rest are "unseen"
_BURST_JITTER = (1.0, 1.5)


@dataclass(slots=True)
class Block:
    """The values of events ``start .. start + len(numeric) - 1`` while drifts are applied.

    ``numeric`` is (n, numeric features), ``codes`` (n, categorical features) indices into
    ``CATEGORIES`` plus ``UNSEEN_CODE``, and ``missing`` (n, numeric + categorical) marks
    nulls, numeric columns first. ``names`` gives each feature's column in ``missing``.
    """

    start: int
    numeric: np.ndarray
    codes: np.ndarray
    missing: np.ndarray
    names: dict[str, int]


def apply_scenario(
    scenario: Scenario, population: Population, block: Block, rng: np.random.Generator
) -> None:
    """Change ``block`` as ``scenario`` says for the events of it where the drift is active.

    ``rng`` is the scenario's own stream for this block, so a scenario never shifts the random
    draws of the base values or of another scenario.
    """
    first, stop = scenario.active_range()
    lo = max(first - block.start, 0)
    hi = int(min(stop - block.start, len(block.numeric)))
    if lo >= hi or scenario.kind == "none":
        return
    rows = slice(lo, hi)
    if scenario.kind == "anomaly_burst":
        _burst(scenario, population, block, rows, rng)
        return
    # Scenario requires a feature and a magnitude of every kind left here.
    assert scenario.feature is not None and scenario.magnitude is not None
    column = block.names[scenario.feature]
    if scenario.kind == "missing_rate":
        block.missing[rows, column] |= rng.random(hi - lo) < scenario.magnitude
    elif scenario.kind == "categorical":
        _categorical(scenario, population, block, rows, column, rng)
    else:
        _numeric(scenario, population, block, rows, column, rng)


def _numeric(
    scenario: Scenario,
    population: Population,
    block: Block,
    rows: slice,
    column: int,
    rng: np.random.Generator,
) -> None:
    values = block.numeric[rows, column]
    mean, std = population.mean[column], population.std[column]
    if scenario.kind == "variance":
        values = mean + (values - mean) * scenario.magnitude
    elif scenario.kind == "gradual":
        index = np.arange(block.start + rows.start, block.start + rows.stop)
        ramp = np.clip((index - scenario.start) / scenario.duration, 0.0, 1.0)
        values = values + scenario.magnitude * std * ramp
    else:
        values = values + scenario.magnitude * std
    if column == population.count:
        values = _stochastic_round(values, rng)
    block.numeric[rows, column] = values


def _categorical(
    scenario: Scenario,
    population: Population,
    block: Block,
    rows: slice,
    column: int,
    rng: np.random.Generator,
) -> None:
    k = column - block.numeric.shape[1]
    n = rows.stop - rows.start
    replaced = rng.random(n) < scenario.magnitude
    drifted = np.where(rng.random(n) < _RAREST_SHARE, population.rarest[k], UNSEEN_CODE)
    block.codes[rows, k] = np.where(replaced, drifted, block.codes[rows, k])


def _burst(
    scenario: Scenario, population: Population, block: Block, rows: slice, rng: np.random.Generator
) -> None:
    assert scenario.magnitude is not None  # Scenario requires it of a burst
    n, features = rows.stop - rows.start, block.numeric.shape[1]
    sign = rng.integers(0, 2, (n, features)) * 2 - 1
    distance = scenario.magnitude * rng.uniform(*_BURST_JITTER, (n, features))
    values = population.mean + sign * distance * population.std
    if population.count is not None:
        count = population.count
        values[:, count] = _stochastic_round(values[:, count], rng)
    block.numeric[rows] = values


def _stochastic_round(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Counts must stay integers; rounding up with probability equal to the fraction keeps
    # the mean shift exact, where round() would bias it by up to half a count.
    return np.floor(values + rng.random(values.shape))
