"""Adversarial probing by source (streams.core.abuse): caught when hidden in normal traffic,
silent on normal traffic, hashed sources, and state that continues exactly after a restore."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from streams.core.abuse.abuse_tracker import AbuseConfig, AbuseTracker
from streams.core.abuse.fingerprint import Fingerprint
from streams.core.contract.columns import Columns
from streams.core.contract.event import PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.errors import InvalidSpec, InvalidState
from streams.core.online.space_saving import SpaceSaving
from streams.simulation.probing import FEATURES, PROBER, ProbingConfig, probing_events

KEY = b"k" * 16
SPEC = ModelSpec(
    "probed", {f: FeatureSpec("number") for f in FEATURES}, source_attribute="client_id"
)
ALERT_SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "alert.json").read_text())
BATCH = 5000


def run(monitor: ModelMonitor, config: ProbingConfig, start: int, stop: int) -> list:
    alerts = []
    for lo in range(start, stop, BATCH):
        events = probing_events(config, lo, min(stop, lo + BATCH))
        positions = [(0, i) for i in range(lo, lo + len(events))]
        alerts += [a for a in monitor.process(events, positions).alerts if a.type == "adversarial"]
    return alerts


def monitor(config: MonitorConfig | None = None, spec: ModelSpec = SPEC) -> ModelMonitor:
    return ModelMonitor(spec, "v1", config or MonitorConfig(), pii=PiiPolicy(key=KEY))


def test_a_prober_with_two_percent_of_the_traffic_is_caught_within_two_windows():
    probing = ProbingConfig(seed=5, attack_share=0.02, attack_start=25_000)
    alerts = run(monitor(), probing, 0, 40_000)  # reference 5,000, windows of 10,000
    firing = {a.adversarial["pattern"]: a for a in alerts if a.status == "firing"}
    assert set(firing) >= {"near_duplicates", "threshold_probing"}
    prober = PiiPolicy(key=KEY).redact(PROBER)
    assert {a.adversarial["source"] for a in alerts} == {prober}
    near = firing["near_duplicates"]
    assert near.adversarial["evidence"]["features"] == ["f0"]  # the walked feature
    assert near.trigger.offset == 34_999  # the first window wholly under attack
    assert near.value > near.threshold
    text = json.dumps([a.to_dict() for a in alerts])
    assert PROBER not in text and "client-" not in text
    for alert in alerts:
        Draft202012Validator(ALERT_SCHEMA).validate(alert.to_dict())


def test_normal_traffic_raises_no_adversarial_alert():
    # 20 windows here; loadtest/bench_adversarial.py runs 1M events (BENCHMARKS.md).
    short = MonitorConfig(abuse=AbuseConfig(window_events=2500))
    assert run(monitor(short), ProbingConfig(seed=11), 0, 55_000) == []


def test_an_anomalous_source_is_caught_and_resolves_when_it_stops():
    config = MonitorConfig(abuse=AbuseConfig(window_events=5000))
    watched = monitor(config)
    run(watched, ProbingConfig(seed=2), 0, 10_000)
    normal = probing_events(ProbingConfig(seed=3), 10_000, 15_000)
    rng = np.random.default_rng(0)
    odd = [
        PredictionEvent(
            e.event_id, e.model_id, e.model_version, e.timestamp_ms,
            {f: float(v) for f, v in zip(FEATURES, rng.normal(0, 1, 5) * 6, strict=True)},
            e.prediction, e.score, attributes={"client_id": "odd-one"},
        ) if i % 50 == 0 else e
        for i, e in enumerate(normal)
    ]  # fmt: skip
    fired = watched.process(odd, [(0, i) for i in range(len(odd))]).alerts
    # Outliers fall in the outer bins of every feature, so they are near-duplicates too.
    assert {a.adversarial["pattern"] for a in fired} >= {"anomalous_share"}
    assert {a.status for a in fired} == {"firing"}
    resolved = run(watched, ProbingConfig(seed=4), 15_000, 20_000)
    assert {(a.status, a.episode_id) for a in resolved} == {
        ("resolved", a.episode_id) for a in fired
    }
    assert all(a.adversarial["evidence"] == {} for a in resolved)


@pytest.mark.parametrize("cut", [7_777, 12_345])
def test_a_restored_monitor_continues_exactly(cut):
    probing = ProbingConfig(seed=8, attack_share=0.03, attack_start=9_000)
    config = MonitorConfig(abuse=AbuseConfig(window_events=5000))
    whole = monitor(config)
    expected = run(whole, probing, 0, 20_000)
    first = monitor(config)
    run(first, probing, 0, cut)
    snapshot = json.loads(json.dumps(first.snapshot()))
    assert "client-" not in json.dumps(snapshot)  # only hashed sources are stored
    second = ModelMonitor.restore(
        snapshot, SPEC, "v1", config, profile=first.profile.to_dict(), reference=[],
        pii=PiiPolicy(key=KEY),
    )  # fmt: skip
    got = run(second, probing, cut, 20_000)
    after = [a.to_dict() for a in expected if a.trigger.offset >= cut]
    assert after and [a.to_dict() for a in got] == after
    # (other detectors' float sums may differ in the last bit with another batch split)
    assert second.snapshot()["abuse"] == whole.snapshot()["abuse"]


def test_without_a_source_attribute_or_a_key_nothing_is_tracked():
    plain = ModelSpec("probed", SPEC.features)
    assert monitor(spec=plain).abuse is None
    dropping = ModelMonitor(SPEC, "v1", MonitorConfig(), pii=PiiPolicy(mode="drop"))
    run(dropping, ProbingConfig(seed=1), 0, 6000)
    assert dropping.abuse is None and dropping.profile is not None
    assert "abuse" not in dropping.snapshot()


def test_malformed_tracker_state_is_refused():
    watched = monitor(MonitorConfig(abuse=AbuseConfig(window_events=1000)))
    run(watched, ProbingConfig(seed=1), 0, 5500)
    tracker = watched.abuse
    assert isinstance(tracker, AbuseTracker)
    good = json.loads(json.dumps(tracker.snapshot()))
    assert tracker.restored(good).snapshot() == good
    bad_states = [
        {**good, "episodes": [["x", "no_such_pattern", 0]]},
        {**good, "window_count": 1000},
        {**good, "heavy": {"tracked": [["s", 1, 2, [0, 0], 0, 0, [0] * 5, []]]}},
        {**good, "heavy": {"tracked": [["s", 1, 0, [0, 0], 0, 0, [0] * 5, [[1, 2]]]]}},
    ]
    for bad in bad_states:
        with pytest.raises(InvalidState):
            tracker.restored(bad)


def test_space_saving_keeps_every_source_above_its_share_in_bounded_memory():
    heavy = SpaceSaving(20, patterns=0, masks=0, memory=0)
    rng = np.random.default_rng(1)
    stream = [f"s{v}" for v in rng.integers(0, 5000, 20_000)] + ["big"] * 2000
    for i in rng.permutation(len(stream)):
        heavy.offer(stream[i])
    assert len(heavy.tracked) == 20
    big = heavy.tracked["big"]
    assert big.count - big.error <= 2000 <= big.count


def test_the_spec_takes_a_source_attribute():
    raw = {"model_id": "m", "features": {"x": {"type": "number"}}, "source_attribute": "client_id"}
    spec = ModelSpec.from_dict(raw)
    assert spec.source_attribute == "client_id"
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    for bad in (3, "", "a\nb"):
        with pytest.raises(InvalidSpec):
            ModelSpec.from_dict({**raw, "source_attribute": bad})


def test_with_two_differing_features_a_pair_walk_still_shares_a_key():
    edges = (np.array([1.0, 2.0, 3.0]),) * 4
    rows = np.array([[0.5, 0.5, 0.5, 0.5], [0.5, 2.5, 3.5, 0.5], [2.5, 2.5, 3.5, 3.5]])
    columns = Columns(("a", "b", "c", "d"), rows, {})
    one, two = (Fingerprint(("a", "b", "c", "d"), edges, differing=d) for d in (1, 2))
    assert len(two.masks) == 4 + 6
    shared = [
        [len(set(keys[0]) & set(keys[i])) for i in (1, 2)]
        for keys in (one.keys(columns).tolist(), two.keys(columns).tolist())
    ]
    assert shared == [[0, 0], [1, 0]]  # rows 0 and 1 differ in b and c only
    [mask] = [m for m, key in enumerate(two.keys(columns)[0]) if key == two.keys(columns)[1][m]]
    assert two.features_of(mask) == ("b", "c")
