"""Every stored state class keeps one convention (docs/ARCHITECTURE.md, "State").

``SNAPSHOT_VERSION`` on the class is the ``"version"`` its snapshot carries (None: a part
versioned by the whole holding it); ``restore`` is a classmethod taking the snapshot first,
then what the object is built from, and refuses garbage with ``InvalidState``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from streams.core.abuse.abuse_tracker import AbuseConfig, AbuseTracker
from streams.core.alerts.alert_rule import RuleState
from streams.core.contract.columns import Columns
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.detectors import REGISTRY, BlockMeans
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.drift.profile import ReferenceProfile
from streams.core.errors import InvalidState
from streams.core.labels.concept_drift import ErrorRateDrift
from streams.core.labels.fairness import FairnessPolicy, FairnessWindow
from streams.core.labels.label_free import LabelFreeEstimator
from streams.core.labels.performance import ClassificationWindow, RegressionWindow
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from streams.core.labels.retraining import RetrainingPolicy
from streams.core.labels.ring import ColumnRing
from streams.core.labels.segment_performance import SegmentedPerformanceMonitor, SegmentPerformance
from streams.core.online.adwin import ADWIN
from streams.core.online.ddm import DDM
from streams.core.online.eddm import EDDM
from streams.core.online.space_saving import SpaceSaving
from streams.core.rollout.canary import CanaryConfig, ModelRollout
from streams.core.rollout.shadow import ShadowJoin
from streams.core.rollout.tally import Tally
from streams.core.segments import SegmentMonitors
from streams.core.segments.segment_reference import SegmentReference
from streams.core.segments.segmented_model_monitor import SegmentedModelMonitor
from tests.core.test_detector_contract import fresh, watched

SPEC = ModelSpec("churn", {"x": FeatureSpec("number")})
POLICY = FairnessPolicy("region", "a")
RING_DTYPES = {"x": np.float64}
NAMES, MEAN, SCALE = ("a",), np.zeros(1), np.ones(1)


def abuse_cases() -> dict[str, Case]:
    """The abuse tracker of a model with a source attribute, and its counters."""
    spec = ModelSpec("m", {"x": FeatureSpec("number")}, source_attribute="client")
    columns = Columns(("x",), np.arange(20.0).reshape(-1, 1), {})
    profile = ReferenceProfile.from_columns("m", "v1", columns, anomaly_columns=1)
    built = (spec, "v1", profile, AbuseConfig(), PiiPolicy(key=b"k" * 16))
    names = {"numeric": ("x",), "categorical": ()}
    sizes = {"patterns": 2, "masks": 1, "memory": 8}
    return {
        "abuse": (lambda: AbuseTracker(*built, **names), built, names),
        "space_saving": (lambda: SpaceSaving(4, **sizes), (4,), sizes),
    }


# (an instance, restore's arguments after the snapshot)
Case = tuple[Callable[[], Any], tuple[Any, ...], dict[str, Any]]
CASES: dict[str, Case] = {
    "adwin": (ADWIN, (), {}),
    "ddm": (DDM, (), {}),
    "eddm": (EDDM, (), {}),
    "ring": (lambda: ColumnRing(4, RING_DTYPES), (4, RING_DTYPES), {}),
    "classification": (ClassificationWindow, (), {}),
    "regression": (RegressionWindow, (), {}),
    "label_free": (LabelFreeEstimator, (), {}),
    "fairness": (lambda: FairnessWindow(POLICY), (POLICY,), {}),
    "concept": (ErrorRateDrift, (), {}),
    "retraining": (
        lambda: RetrainingPolicy("m", "v1", after=3, cooldown=20),
        ("m", "v1"),
        {"after": 3, "cooldown": 20},
    ),
    "rule": (RuleState, (), {}),
    "blocks": (lambda: BlockMeans(NAMES, MEAN, SCALE), (NAMES, MEAN, SCALE), {}),
    "performance": (
        lambda: PerformanceMonitor(SPEC, "v1", PerformanceConfig()),
        (SPEC, "v1", PerformanceConfig()),
        {},
    ),
    "model": (
        lambda: ModelMonitor(SPEC, "v1", MonitorConfig()),
        (SPEC, "v1", MonitorConfig()),
        {"profile": None, "reference": []},
    ),
    "tally": (Tally, (), {}),
    "shadow": (lambda: ShadowJoin(ttl_ms=10, max_pending=5), (), {"ttl_ms": 10, "max_pending": 5}),
    "rollout": (lambda: ModelRollout("m", CanaryConfig()), ("m", CanaryConfig()), {}),
}
# Per-segment state, built on a monitor watching against a profile.
SEGMENTED = ModelMonitor(
    ModelSpec("churn", {"x": FeatureSpec("number")}, segments=("region",)), "v1", MonitorConfig(),
    ReferenceProfile.from_columns("churn", "v1", Columns(("x",), np.ones((20, 1)), {}),
                                  anomaly_columns=1),
)  # fmt: skip
CASES["segment_reference"] = (lambda: SegmentReference(SEGMENTED.profile), (SEGMENTED.profile,), {})
CASES["segment_monitors"] = (lambda: SegmentMonitors(SEGMENTED), (SEGMENTED,), {})
SEGMENTED_SPEC = ModelSpec("churn", {"x": FeatureSpec("number")}, segments=("region",))
CASES["segmented_model"] = (
    lambda: SegmentedModelMonitor(SEGMENTED_SPEC, "v1", MonitorConfig(), SEGMENTED.profile),
    (SEGMENTED_SPEC, "v1", MonitorConfig()),
    {"profile": SEGMENTED.profile.to_dict(), "reference": []},
)
CASES["segment_performance"] = (
    lambda: SegmentPerformance(SEGMENTED_SPEC, "v1", PerformanceConfig()),
    (SEGMENTED_SPEC, "v1", PerformanceConfig()),
    {},
)
CASES["segmented_performance"] = (
    lambda: SegmentedPerformanceMonitor(SEGMENTED_SPEC, "v1", PerformanceConfig()),
    (SEGMENTED_SPEC, "v1", PerformanceConfig()),
    {},
)
CASES.update(abuse_cases())
for kind in REGISTRY:
    CASES[f"detector:{kind.name}"] = (
        lambda kind=kind: fresh(kind),
        (fresh(kind).config, watched(kind)),
        {},
    )


@pytest.mark.parametrize("name", CASES)
def test_snapshot_carries_the_class_version_and_restores(name):
    make, args, kwargs = CASES[name]
    state = make()
    cls = type(state)
    assert isinstance(inspect.getattr_static(cls, "restore"), classmethod)
    snapshot = json.loads(json.dumps(state.snapshot()))
    if cls.SNAPSHOT_VERSION is None:
        assert "version" not in snapshot
    else:
        assert type(cls.SNAPSHOT_VERSION) is int
        assert snapshot["version"] == cls.SNAPSHOT_VERSION
    restored = cls.restore(snapshot, *args, **kwargs)
    assert type(restored) is cls
    assert json.loads(json.dumps(restored.snapshot())) == snapshot


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("garbage", [None, 3, "gASV", [], {}])
def test_garbage_is_refused_as_invalid_state(name, garbage):
    _, args, kwargs = CASES[name]
    cls = type(CASES[name][0]())
    with pytest.raises(InvalidState):
        cls.restore(garbage, *args, **kwargs)


# Parts stored inside a versioned whole (SNAPSHOT_VERSION None) are versioned by it.
VERSIONED = [n for n in CASES if type(CASES[n][0]()).SNAPSHOT_VERSION is not None]


@pytest.mark.parametrize("name", VERSIONED)
def test_another_version_is_refused(name):
    make, args, kwargs = CASES[name]
    state = make()
    snapshot = {**json.loads(json.dumps(state.snapshot())), "version": 99}
    with pytest.raises(InvalidState):
        type(state).restore(snapshot, *args, **kwargs)
