"""Generating a simulated prediction stream as columnar chunks of numpy arrays.

The stream is cut into fixed blocks of ``CHUNK_EVENTS`` events, and every random draw of
block ``b`` comes from generators seeded by ``(seed, b, component)``. So any range of events
can be produced on its own and equals the same range of one long run, and a scenario's draws
never disturb the base values or another scenario's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from numbers import Integral

import numpy as np

from streams.simulation.config import StreamConfig
from streams.simulation.drift import Block, apply_scenario
from streams.simulation.population import (
    CATEGORIES,
    GROUPS,
    SEGMENTS,
    UNSEEN,
    Population,
    sample_groups,
    sample_latency,
    sample_segments,
)

__all__ = ["CHUNK_EVENTS", "EventChunk", "generate_events"]

CHUNK_EVENTS = 10_000
"""Events per block; changing it changes every stream."""

_DECIMALS = 4  # numeric values are logged like a serving app would, and encode shorter
_SCORE_DECIMALS = 6
_CATEGORY_TABLE = np.array([*CATEGORIES, UNSEEN])
_SEGMENT_TABLE = np.array(SEGMENTS)
_GROUP_TABLE = np.array(GROUPS)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Components of a block's randomness; scenario i uses _SCENARIO + i.
_NUMERIC, _COUNT, _CATEGORICAL, _MISSING, _SEGMENT, _GROUP, _LATENCY = range(7)
_SCENARIO = 1000


@dataclass(frozen=True, slots=True)
class EventChunk:
    """Consecutive simulated events, as columns.

    Attributes
    ----------
    start
        Index of the first event in the stream.
    numeric
        float64, shape (n, numeric features), NaN where a value is missing.
    categorical
        Unicode strings, shape (n, categorical features), ``""`` where a value is missing.
    score, prediction
        The model's score in [0, 1] (float64) and ``int(score > 0.5)`` (int64).
    segment, group
        Attributes: ``"web"``/``"app"``/``"store"`` and ``"A"``/``"B"`` (unicode).
    timestamps_ms
        Event times in milliseconds since the Unix epoch (int64).
    latency_ms
        Model latency in milliseconds (float64, positive).
    """

    start: int
    numeric: np.ndarray
    categorical: np.ndarray
    score: np.ndarray
    prediction: np.ndarray
    segment: np.ndarray
    group: np.ndarray
    timestamps_ms: np.ndarray
    latency_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.score)

    @property
    def stop(self) -> int:
        """Index of the event after the last one in the chunk."""
        return self.start + len(self)

    def __getitem__(self, rows: slice) -> EventChunk:
        """The events at ``rows`` (positions within the chunk, step 1) as a chunk (views)."""
        lo, hi, step = rows.indices(len(self))
        if step != 1:
            raise ValueError("a chunk can only be sliced with step 1")
        hi = max(hi, lo)
        columns = {f.name: getattr(self, f.name)[lo:hi] for f in fields(self) if f.name != "start"}
        return EventChunk(start=self.start + lo, **columns)


def generate_events(config: StreamConfig, count: int, *, offset: int = 0) -> Iterator[EventChunk]:
    """Events ``offset .. offset + count - 1`` of ``config``'s stream, in chunks.

    Chunks hold at most ``CHUNK_EVENTS`` events and are aligned to multiples of it, so the
    first and last may be shorter. The result depends only on ``config`` and the event
    indices: ``generate_events(c, 100)`` then ``generate_events(c, 100, offset=100)`` equals
    ``generate_events(c, 200)``.

    Parameters
    ----------
    config
        The stream.
    count
        Number of events, at least 0.
    offset
        Index of the first event.

    Examples
    --------
    >>> from streams.simulation import Scenario, StreamConfig, generate_events
    >>> config = StreamConfig(seed=1, scenarios=(
    ...     Scenario(kind="variance", feature="x3", start=5000, magnitude=1.5),))
    >>> [(chunk.start, len(chunk)) for chunk in generate_events(config, 12_000, offset=3000)]
    [(3000, 7000), (10000, 5000)]
    """
    for field, value in (("count", count), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
            raise ValueError(f"{field} must be a non-negative integer, got {value!r}")
    # Checked above, before the generator starts: errors surface at the call, not at next().
    return _chunks(config, int(count), int(offset))


def _chunks(config: StreamConfig, count: int, offset: int) -> Iterator[EventChunk]:
    if count == 0:
        return
    population = Population.of(config)
    end = offset + count
    for index in range(offset // CHUNK_EVENTS, math.ceil(end / CHUNK_EVENTS)):
        first = index * CHUNK_EVENTS
        chunk = _block(config, population, index)
        lo, hi = max(offset - first, 0), min(end - first, CHUNK_EVENTS)
        yield chunk if hi - lo == CHUNK_EVENTS else chunk[lo:hi]


def _block(config: StreamConfig, population: Population, index: int) -> EventChunk:
    n = CHUNK_EVENTS

    def rng(component: int) -> np.random.Generator:
        key = np.random.SeedSequence(config.seed, spawn_key=(1, index, component))
        return np.random.default_rng(key)

    block = Block(
        start=index * n,
        numeric=population.numeric(rng(_NUMERIC), rng(_COUNT), n),
        codes=population.categorical(rng(_CATEGORICAL), n),
        missing=_base_missing(config, rng(_MISSING), n),
        names={name: column for column, name in enumerate(config.feature_names)},
    )
    for i, scenario in enumerate(config.scenarios):
        apply_scenario(scenario, population, block, rng(_SCENARIO + i))
    numeric, categorical = _values(block)
    score = np.round(population.score(numeric), _SCORE_DECIMALS)
    return EventChunk(
        start=block.start,
        numeric=numeric,
        categorical=categorical,
        score=score,
        prediction=(score > 0.5).astype(np.int64),
        segment=_SEGMENT_TABLE[sample_segments(rng(_SEGMENT), n)],
        group=_GROUP_TABLE[sample_groups(rng(_GROUP), n)],
        timestamps_ms=_timestamps_ms(config, block.start, n),
        latency_ms=sample_latency(rng(_LATENCY), n),
    )


def _base_missing(config: StreamConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    shape = (n, len(config.feature_names))
    if config.base_missing_rate == 0:
        return np.zeros(shape, dtype=bool)
    return rng.random(shape) < config.base_missing_rate


def _values(block: Block) -> tuple[np.ndarray, np.ndarray]:
    """The block's final numeric and categorical columns, missing values blanked."""
    features = block.numeric.shape[1]
    numeric = np.round(block.numeric, _DECIMALS)
    numeric[block.missing[:, :features]] = np.nan
    categorical = _CATEGORY_TABLE[block.codes]
    categorical[block.missing[:, features:]] = ""
    return numeric, categorical


def _timestamps_ms(config: StreamConfig, start: int, n: int) -> np.ndarray:
    start_ms = (config.start_time - _EPOCH) // timedelta(milliseconds=1)
    # Multiply before dividing: exact whenever i * 1000 / eps is an integer (i=3, eps=3).
    offsets = np.floor(np.arange(start, start + n) * 1000.0 / config.events_per_second)
    return start_ms + offsets.astype(np.int64)
