"""Our ADWIN, DDM and EDDM against river 0.26.1's: the same detections, step for step;
their snapshots are plain JSON data that restore exactly and refuse anything malformed."""

from __future__ import annotations

import copy
import math

import numpy as np
import orjson
import pytest
from river.drift import ADWIN as RiverADWIN
from river.drift.binary import DDM as RiverDDM
from river.drift.binary import EDDM as RiverEDDM

from streams.core.errors import InvalidState
from streams.core.online.adwin import ADWIN
from streams.core.online.ddm import DDM
from streams.core.online.eddm import EDDM
from tests.json_mutations import replaced


def _streams(seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    return {
        "normal_shift": np.r_[rng.normal(0, 1, 3000), rng.normal(0.4, 1, 3000)].tolist(),
        "binary": (rng.random(8000) < np.r_[np.full(4000, 0.1), np.full(4000, 0.25)]).tolist(),
        "heavy_tailed": (rng.standard_t(2, 6000) * 10).tolist(),
    }


def _close(a: float, b: float) -> bool:
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "params", [{}, {"clock": 1}, {"clock": 4, "delta": 0.05, "max_buckets": 2}]
)
def test_adwin_behaves_as_rivers_at_every_step(seed, params):
    for name, stream in _streams(seed).items():
        ours, theirs = ADWIN(**params), RiverADWIN(**params)
        ours_at, theirs_at = [], []
        for i, x in enumerate(stream):
            ours.update(float(x))
            theirs.update(float(x))
            ours_at += [i] * ours.drift_detected
            theirs_at += [i] * theirs.drift_detected
            assert ours.width == theirs.width, (name, i)
            assert _close(ours.estimation, theirs.estimation), (name, i)
            assert _close(ours.variance, theirs.variance), (name, i)
        assert ours_at == theirs_at, name
        assert ours.n_detections == theirs.n_detections


def test_the_streams_make_adwin_cut():
    # Otherwise the equivalence above would say little.
    detections = 0
    for stream in _streams(1).values():
        detector = ADWIN(clock=1)
        for x in stream:
            detector.update(float(x))
            detections += detector.drift_detected
    assert detections >= 3


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("ours", "theirs"), [(DDM, RiverDDM), (EDDM, RiverEDDM)])
def test_ddm_and_eddm_behave_as_rivers(seed, ours, theirs):
    rng = np.random.default_rng(seed)
    rates = np.r_[np.full(3000, 0.1), np.full(2000, 0.3), np.full(3000, 0.05), np.full(2000, 0.6)]
    ours_d, theirs_d = ours(), theirs()
    ours_at, theirs_at = [], []
    for i, x in enumerate((rng.random(len(rates)) < rates).tolist()):
        ours_d.update(x)
        theirs_d.update(x)
        ours_at += [i] * ours_d.drift_detected
        theirs_at += [i] * theirs_d.drift_detected
        assert ours_d.warning_detected == theirs_d.warning_detected, i
    assert ours_at == theirs_at
    assert len(ours_at) >= 1


def _feed(detector, values) -> list[bool]:
    seen = []
    for x in values:
        detector.update(x)
        seen.append(detector.drift_detected)
    return seen


@pytest.mark.parametrize(
    ("make", "values"),
    [
        (lambda: ADWIN(clock=1), np.r_[np.zeros(400), np.ones(400)] + np.arange(800) % 3 / 10),
        (DDM, np.arange(4000) % 7 == 0),
        (EDDM, np.arange(4000) % 9 == 0),
    ],
)
def test_a_restored_snapshot_continues_identically(make, values):
    values = values.tolist()
    for cut in (0, 1, 13, 390, 420, len(values) - 1):
        first = make()
        _feed(first, values[:cut])
        wire = orjson.loads(orjson.dumps(first.snapshot()))  # JSON-safe, as stored in Redis
        again = type(first).restore(wire)
        assert _feed(again, values[cut:]) == _feed(first, values[cut:])
        assert again.snapshot() == first.snapshot()


def test_an_adwin_snapshot_is_kept_until_the_next_update_and_never_changed_by_it():
    detector = ADWIN(clock=4)
    _feed(detector, [float(i % 5) for i in range(300)])
    first = detector.snapshot()
    as_taken = copy.deepcopy(first)
    assert detector.snapshot() is first  # no update since: the same copy
    detector.update(7.0)
    assert first == as_taken  # an earlier snapshot does not follow the state
    second = detector.snapshot()
    assert second != first and second["width"] == first["width"] + 1
    assert ADWIN.restore(orjson.loads(orjson.dumps(second))).snapshot() == second


def _adwin_snapshot() -> dict:
    detector = ADWIN(clock=1)
    _feed(detector, [float(i % 5) for i in range(300)])
    return detector.snapshot()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("version",), 0),
        (("width",), 301.0),
        (("width",), "300"),
        (("total",), math.nan),
        (("total",), None),
        (("tick",), -1),
        (("tick",), True),
        (("params",), [0.002, 1, 5, 5]),
        (("params", 0), 2.0),
        (("params", 2), 0),
        (("totals",), []),
        (("totals",), 7),
        (("totals", 0), [1.0] * 9),
        (("variances", 0), []),
        (("variances", 1, 0), -1.0),
        (("drift_detected",), 0),
    ],
)
def test_malformed_adwin_snapshots_are_refused(path, value):
    with pytest.raises(InvalidState):
        ADWIN.restore(replaced(_adwin_snapshot(), path, value))


@pytest.mark.parametrize("raw", [None, 3, "x", [], {"version": 1}, {"detectors": "gASV"}])
@pytest.mark.parametrize("cls", [ADWIN, DDM, EDDM])
def test_non_snapshots_are_refused(cls, raw):
    with pytest.raises(InvalidState):
        cls.restore(raw)
    assert issubclass(InvalidState, ValueError)


@pytest.mark.parametrize(
    ("cls", "path", "value"),
    [
        (DDM, ("p",), 1.5),
        (DDM, ("n",), 2.5),
        (DDM, ("min",), [0.1, 0.2]),
        (DDM, ("flags",), [1, 0]),
        (EDDM, ("counts",), [5, 9, 1]),
        (EDDM, ("distances", 1), math.inf),
        (EDDM, ("params",), [30, 0.5, 0.9]),
    ],
)
def test_malformed_ddm_and_eddm_snapshots_are_refused(cls, path, value):
    detector = cls()
    _feed(detector, (np.arange(500) % 4 == 0).tolist())
    with pytest.raises(InvalidState):
        cls.restore(replaced(detector.snapshot(), path, value))
