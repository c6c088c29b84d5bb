"""The contract every registered detector keeps (river's ``checks`` habit)."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest

from streams.core.detectors import REGISTRY, Watched, build, default_configs
from streams.core.detectors.base import COLUMNS
from streams.core.drift.anomaly import AnomalyScorer
from streams.core.drift.profile import CategoricalProfile, NumericProfile
from streams.core.errors import InvalidState

RNG_SEED = 17


def watched(kind) -> Watched:
    rng = np.random.default_rng(RNG_SEED)
    target = sorted(kind.watches)[0]
    if target == "model":
        reference = rng.normal(0, 1, (2000, 3))
        return Watched(
            "model", None, anomaly=AnomalyScorer.from_reference(("a", "b", "c"), reference)
        )
    if target.startswith("categorical"):
        profile = CategoricalProfile.from_values(list(rng.choice(["x", "y", "z"], 2000)))
        return Watched(target, "c", profile)
    return Watched(target, "n", NumericProfile.from_values(rng.normal(0, 1, 2000)), 0.0, 1.0)


def batches(kind, count: int = 6) -> list:
    """Inputs of what ``kind`` reads: drifting a little, with missing values."""
    rng = np.random.default_rng(RNG_SEED + 1)
    out = []
    for n in range(count):
        if kind.reads == "anomaly_flags":
            out.append(rng.random(300) < 0.01 * n)
        elif kind.reads == "block_means":
            out.append(rng.normal(0.8 * n, 1, 3))
        elif sorted(kind.watches)[0].startswith("categorical"):
            out.append(
                [None if v == "w" else str(v) for v in rng.choice(["x", "y", "w", "q"], 300)]
            )
        else:
            values = rng.normal(0.3 * n, 1 + 0.2 * n, 300)
            values[rng.random(300) < 0.05 * n] = np.nan
            out.append(values)
    return out


def fresh(kind):
    config = dataclasses.replace(kind.Config(), enabled=True)
    detector = kind.watching(config, watched(kind))
    assert detector is not None
    return detector


def feed(detector, inputs, *, close_every: int = 2) -> list:
    verdicts = []
    for n, values in enumerate(inputs, start=1):
        detector.update(values)
        if n % close_every == 0:
            verdicts.append(detector.verdict())
            detector.end_window()
    return verdicts


names = [kind.name for kind in REGISTRY]


def test_names_are_unique_and_every_detector_is_described():
    assert len(set(names)) == len(names)
    for kind in REGISTRY:
        assert kind.watches and (kind.watches <= COLUMNS or kind.watches == {"model"})
        assert kind.reads in ("values", "block_means", "anomaly_flags")
        assert kind.__doc__ and "Examples" in kind.__doc__, f"{kind.name}: a seeded example"


@pytest.mark.parametrize("kind", REGISTRY, ids=names)
def test_defaults_are_immutable(kind):
    config = kind.Config()
    field = dataclasses.fields(config)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, field, getattr(config, field))
    feed(fresh(kind), batches(kind))
    assert kind.Config() == config == default_configs()[kind.name]


@pytest.mark.parametrize("kind", REGISTRY, ids=names)
def test_input_is_not_mutated(kind):
    inputs = batches(kind)
    kept = copy.deepcopy(inputs)
    feed(fresh(kind), inputs)
    for before, after in zip(kept, inputs, strict=True):
        if isinstance(before, np.ndarray):
            np.testing.assert_array_equal(before, after)  # NaN equals NaN here
        else:
            assert before == after


@pytest.mark.parametrize("kind", REGISTRY, ids=names)
def test_deterministic(kind):
    first, second = fresh(kind), fresh(kind)
    assert feed(first, batches(kind)) == feed(second, batches(kind))
    assert first.snapshot() == second.snapshot()


@pytest.mark.parametrize("kind", REGISTRY, ids=names)
@pytest.mark.parametrize("cut", [1, 3])
def test_restore_of_snapshot_continues_identically(kind, cut):
    inputs = batches(kind, 8)
    uninterrupted, restarted = fresh(kind), fresh(kind)
    feed(uninterrupted, inputs[:cut], close_every=cut)
    feed(restarted, inputs[:cut], close_every=cut)
    stored = json.loads(json.dumps(restarted.snapshot()))  # JSON-serialisable
    restarted = kind.restore(stored, uninterrupted.config, watched(kind))
    assert restarted.snapshot() == uninterrupted.snapshot()
    assert feed(restarted, inputs[cut:]) == feed(uninterrupted, inputs[cut:])


@pytest.mark.parametrize("kind", REGISTRY, ids=names)
@pytest.mark.parametrize("garbage", [None, 3, "gASV", [], {}, {"counts": "x", "seen": -1}])
def test_restore_rejects_garbage(kind, garbage):
    with pytest.raises(InvalidState):
        kind.restore(garbage, kind.Config(), watched(kind))


@pytest.mark.parametrize("kind", REGISTRY, ids=names)
def test_restore_rejects_each_field_spoilt(kind):
    detector = fresh(kind)
    feed(detector, batches(kind, 3), close_every=5)
    snapshot = json.loads(json.dumps(detector.snapshot()))
    for key in snapshot:
        for bad in ("1", -1, None, [1.5]):
            spoilt = {**snapshot, key: bad}
            with pytest.raises(InvalidState):
                kind.restore(spoilt, detector.config, watched(kind))


def test_build_leaves_out_what_is_switched_off_or_has_nothing_to_judge_by():
    rng = np.random.default_rng(1)
    profile = NumericProfile.from_values(rng.normal(0, 1, 1000))
    configs = default_configs()
    numeric = [
        d.name
        for d in build(
            "numeric_feature", configs, Watched("numeric_feature", "n", profile, 0.0, 1.0)
        )
    ]
    assert numeric == ["psi", "missing_rate", "out_of_range", "adwin", "cusum"]
    no_mean = build("numeric_feature", configs, Watched("numeric_feature", "n", profile))
    assert [d.name for d in no_mean] == ["psi", "missing_rate", "out_of_range"]
    tuned = configs.overridden({"adwin": {"enabled": False}, "out_of_range": {"enabled": False}})
    watched_n = Watched("numeric_feature", "n", profile, 0.0, 1.0)
    assert [d.name for d in build("numeric_feature", tuned, watched_n)] == [
        "psi",
        "missing_rate",
        "cusum",
    ]
    assert build("model", configs, Watched("model", None)) == []
