"""``Columns.from_events``'s flat conversions against the plain per-event reading."""

from __future__ import annotations

import random

import numpy as np
import pytest

from streams.core.contract.columns import Columns, category_of
from streams.core.contract.event import PredictionEvent

_VALUES = [None, True, False, 0, 7, -(2**62), 1.5, -0.0, 3.0, "a", "b", "1.0"]


def event(features: dict[str, object]) -> PredictionEvent:
    return PredictionEvent("e", "m", "v1", 0, features, 1)


def plain(events, numeric, categorical):
    # What from_events means, one value at a time.
    rows = [[np.nan if e.features.get(n) is None else float(e.features[n]) for n in numeric]
            for e in events]  # fmt: skip
    numbers = np.array(rows, dtype=float).reshape(len(events), len(numeric))
    return numbers, {c: [category_of(e.features.get(c)) for e in events] for c in categorical}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("numeric", [(), ("x",), ("x", "y", "z")])
def test_columns_match_the_plain_reading(seed, numeric):
    rng = random.Random(seed)
    numbers = [v for v in _VALUES if type(v) is not str]
    absent = rng.random() < 0.5
    events = []
    for _ in range(rng.randrange(0, 40)):
        features = {
            n: rng.choice(numbers if rng.random() < 0.3 else [rng.random()]) for n in numeric
        }
        if absent and numeric and rng.random() < 0.2:
            del features[numeric[0]]
        categories = ["a", "b", None] if seed % 2 else _VALUES
        features.update({c: rng.choice(categories) for c in ("c", "d")})
        if rng.random() < 0.1:
            del features["c"]
        events.append(event(features))
    columns = Columns.from_events(events, numeric, ("c", "d"))
    expected_numbers, expected_categories = plain(events, numeric, ("c", "d"))
    assert columns.numeric.shape == (len(events), len(numeric))
    np.testing.assert_array_equal(columns.numeric, expected_numbers)
    assert columns.categorical == expected_categories
