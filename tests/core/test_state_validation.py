"""Malformed stored monitor state raises InvalidState, never a TypeError from deep inside."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from streams.core import EventDecoder, Ingestor, ModelSpec, SpecRegistry
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.monitor import Monitor
from streams.core.errors import InvalidState
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from tests.core.test_monitor_state import CONFIG, batches


@pytest.fixture(scope="module")
def stored():
    registry = SpecRegistry(warmup_events=100)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, CONFIG)
    profile = None
    for batch in batches(3_500):
        result = ingestor.ingest(batch)
        (key,) = monitor.process(result.accepted, result.positions).touched
        profile = monitor.monitors[key].take_new_profile() or profile
    state = orjson.loads(orjson.dumps(monitor.monitors[key].snapshot()))
    return registry.spec_for(*key), key[1], state, profile


def _restore(stored, snapshot=None, profile="same"):
    spec, version, state, stored_profile = stored
    return ModelMonitor.restore(
        state if snapshot is None else snapshot, spec, version, CONFIG,
        profile=stored_profile if profile == "same" else profile, reference=[],
    )  # fmt: skip


def test_the_stored_state_restores(stored):
    assert _restore(stored).snapshot() == stored[2]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 1),
        ("window_count", 500),
        ("window_count", "7"),
        ("detectors", 0),
        ("model_detectors", {"mahalanobis": {"anomalies": 5, "seen": 2}}),
        ("blocks", {"sums": [], "counts": [], "rows": 3}),
        ("rules", [[1, 2]]),
        ("tail", [[1, 2, 3]]),
        ("version", 4),
        ("anomalies", -3),
    ],
)
def test_malformed_monitor_state_raises_invalid_state(stored, field, value):
    snapshot = copy.deepcopy(stored[2])
    snapshot[field] = value
    with pytest.raises(InvalidState):
        _restore(stored, snapshot)


def test_a_window_that_does_not_fit_its_profile_is_refused(stored):
    snapshot = copy.deepcopy(stored[2])
    name = next(iter(snapshot["detectors"]))
    psi = snapshot["detectors"][name]["psi"]
    psi["counts"] = psi["counts"][:-1]
    with pytest.raises(InvalidState):
        _restore(stored, snapshot)


@pytest.mark.parametrize("profile", [{"version": 9}, {"features": 3}, 7])
def test_a_malformed_profile_is_refused(stored, profile):
    with pytest.raises(InvalidState):
        _restore(stored, profile=profile)


@pytest.mark.parametrize("field", ["concept", "counts", "window", "tail", "rules"])
def test_malformed_performance_state_raises_invalid_state(stored, field):
    spec, version = stored[0], stored[1]
    snapshot = PerformanceMonitor(spec, version, PerformanceConfig()).snapshot()
    snapshot = orjson.loads(orjson.dumps(snapshot))
    assert PerformanceMonitor.restore(snapshot, spec, version, PerformanceConfig())
    snapshot[field] = {"river": "gASV"} if field == "concept" else 5
    with pytest.raises(InvalidState):
        PerformanceMonitor.restore(snapshot, spec, version, PerformanceConfig())


V2 = Path(__file__).parent / "data" / "monitor_state_v2.json"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 1),
        ("windows", 0),
        ("windows", {"feature:x0": {"counts": [1], "missing": 0, "out_of_range": 0, "seen": 1}}),
        (
            "online",
            {"version": 1, "detectors": "gASVKAAAAAAAAACMCGJ1aWx0aW5zlIwEZXZhbJSTlIwBMZSFlFKULg=="},
        ),
        ("window_anomalies", "3"),
        ("window_anomalies", 10_000),
    ],
)
def test_malformed_version_2_state_raises_invalid_state(field, value):
    stored = orjson.loads(V2.read_bytes())
    spec = ModelSpec.from_dict(stored["spec"])

    def restore(snapshot):
        return ModelMonitor.restore(snapshot, spec, stored["model_version"], CONFIG,
                                    profile=stored["profile"], reference=[])  # fmt: skip

    assert restore(snapshot=copy.deepcopy(stored["snapshot"])).windows_closed > 0
    with pytest.raises(InvalidState):
        restore(snapshot={**stored["snapshot"], field: value})
