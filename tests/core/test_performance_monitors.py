"""Every model version's labels: routed by (model, version), created once a spec exists,
restored from stored state, with the same alerts and requests as the monitors fed alone."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from streams.core import SpecRegistry
from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.errors import InvalidState
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from streams.core.labels.performance_monitors import PerformanceMonitors
from tests.core.test_performance_monitor import classified

# A reference of 1,000 labels keeps the streams short (the default is 10,000).
CONFIG = PerformanceConfig(reference_labels=1_000, retrain_after=2)
SPEC = ModelSpec("m", {"x": FeatureSpec("number")})


def as_version(pairs: list[LabelledPrediction], version: str) -> list[LabelledPrediction]:
    return [
        LabelledPrediction(p.model_id, version, p.event_id, p.prediction, p.label, p.score,
                           p.attributes, p.predicted_at_ms, p.labelled_at_ms)
        for p in pairs
    ]  # fmt: skip


def two_versions() -> list[tuple[LabelledPrediction, tuple[int, int]]]:
    """v1 degrades after 3,000 labels, v2 stays healthy; interleaved in label order."""
    rng = np.random.default_rng(7)
    v1 = classified(rng, 3_000) + classified(rng, 3_000, start=3_000, noise=0.3)
    v2 = as_version(classified(rng, 6_000), "v2")
    mixed = [p for pair in zip(v1, v2, strict=True) for p in pair]
    return [(p, (0, offset)) for offset, p in enumerate(mixed)]


def batches(pairs, size: int = 300):
    return [pairs[i : i + size] for i in range(0, len(pairs), size)]


def as_json(items):
    return [orjson.dumps(i.to_dict()) for i in items]


def test_pairs_are_routed_by_version_as_if_each_monitor_were_fed_alone():
    pairs = two_versions()
    monitors = PerformanceMonitors(SpecRegistry([SPEC]), CONFIG)
    alerts, requests = [], []
    for batch in batches(pairs):
        outcome = monitors.process(batch)
        alerts += outcome.alerts
        requests += outcome.retrain_requests
        assert set(outcome.touched) == {("m", "v1"), ("m", "v2")}
    alone = {v: PerformanceMonitor(SPEC, v, CONFIG) for v in ("v1", "v2")}
    expected = {"v1": [], "v2": []}
    for batch in batches(pairs):
        for version, monitor in alone.items():
            mine = [(p, at) for p, at in batch if p.model_version == version]
            expected[version] += monitor.process([p for p, _ in mine], [at for _, at in mine])
    assert {a.model_version for a in alerts} == {"v1"}, "only the degraded version fires"
    assert as_json(a for a in alerts if a.model_version == "v1") == as_json(expected["v1"])
    assert expected["v2"] == []
    assert len(requests) == 1 and requests[0].model_version == "v1"


def test_a_version_without_a_spec_is_counted_unwatched_and_gets_no_monitor():
    registry = SpecRegistry([ModelSpec("m", {"x": FeatureSpec("number")}, model_version="v1")])
    monitors = PerformanceMonitors(registry, CONFIG)
    outcome = monitors.process(two_versions()[:100])
    assert outcome.unwatched == {"m": 50}
    assert set(monitors.monitors) == set(outcome.touched) == {("m", "v1")}


def test_restore_stored_continues_identically_and_unloaded_names_what_to_restore():
    pairs, registry = two_versions(), SpecRegistry([SPEC])
    uninterrupted, restarted = (PerformanceMonitors(registry, CONFIG) for _ in range(2))
    stored: dict[tuple[str, str], bytes] = {}
    expected, got = [], []
    for number, batch in enumerate(batches(pairs)):
        expected += uninterrupted.process(batch).alerts
        if number % 4 == 3:
            restarted.forget()
        unloaded = restarted.unloaded(batch)
        assert all(key not in restarted.monitors for key in unloaded)
        for key, (first, _) in unloaded.items():
            assert (first.model_id, first.model_version) == key
            snapshot = orjson.loads(stored[key]) if key in stored else None
            restarted.restore_stored(key, snapshot)
        outcome = restarted.process(batch)
        got += outcome.alerts
        stored.update({k: orjson.dumps(m.snapshot()) for k, m in outcome.touched.items()})
    assert expected and as_json(got) == as_json(expected)


def test_malformed_stored_state_raises_and_keeps_nothing():
    monitors = PerformanceMonitors(SpecRegistry([SPEC]), CONFIG)
    with pytest.raises(InvalidState):
        monitors.restore_stored(("m", "v1"), {"version": 2, "window": "no"})
    assert monitors.monitors == {}
    assert monitors.restore_stored(("other", "v1"), None) is None
    outcome = monitors.process(two_versions()[:10])  # started fresh
    assert set(outcome.touched) == {("m", "v1"), ("m", "v2")}
