"""ColumnRing: the last N rows, in place, and a snapshot that restores slot for slot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.core.labels.ring import ColumnRing

DTYPES = {"x": np.float64, "flag": np.bool_}


def test_it_keeps_exactly_the_last_rows_across_batches():
    window = ColumnRing(5, DTYPES)
    pushed = []
    for start, n in ((0, 3), (3, 1), (4, 9), (13, 2)):
        x = np.arange(start, start + n, dtype=float)
        window.push({"x": x, "flag": x % 2 == 0})
        pushed += x.tolist()
    rows = window.rows()
    assert len(window) == 5 and sorted(rows["x"].tolist()) == pushed[-5:]
    assert (rows["flag"] == (rows["x"] % 2 == 0)).all()


def test_a_snapshot_with_nan_survives_json_and_continues_identically():
    window = ColumnRing(4, DTYPES)
    window.push({"x": np.array([1.0, np.nan, 3.0]), "flag": np.array([True, False, True])})
    restored = ColumnRing.restore(json.loads(json.dumps(window.snapshot())), 4, DTYPES)
    for ring_ in (window, restored):
        ring_.push({"x": np.array([4.0, 5.0]), "flag": np.array([False, False])})
    np.testing.assert_array_equal(window.rows()["x"], restored.rows()["x"])
    assert np.isnan(restored.rows()["x"]).sum() == 1


@pytest.mark.parametrize(
    "snapshot",
    [
        {"next": 3, "columns": {"x": [1.0, 2.0], "flag": [True, True]}},  # next != fill
        {"next": 0, "columns": {"x": [1.0] * 5, "flag": [True] * 5}},  # larger than the ring
        {"next": 1, "columns": {"x": [1.0], "flag": []}},  # columns differ
    ],
)
def test_a_snapshot_that_does_not_fit_is_refused(snapshot):
    with pytest.raises(ValueError):
        ColumnRing.restore(snapshot, 4, DTYPES)


def test_a_size_must_be_positive():
    with pytest.raises(ValueError):
        ColumnRing(0, DTYPES)
