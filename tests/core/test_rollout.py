"""Rollouts: inherited references, canary verdicts and shadow traffic (pure core)."""

from __future__ import annotations

import json

import orjson
import pytest

from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.alerts.alert import Alert
from streams.core.contract.event import RawRecord
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.core.errors import InvalidState
from streams.core.rollout import CanaryConfig, ModelRollout, Rollouts
from streams.core.rollout.checks import rate_check
from streams.core.rollout.tally import Tally
from streams.simulation.rollout import rollout_events

CONFIG = MonitorConfig(window_events=500, reference_events=1000)
CANARY = CanaryConfig(window_s=10)  # 1,000 events a window at 100 events/s
#: The candidate starts after v1's reference (1,000 events) is built.
START = 2000


def run(events, *, mode="inherit", restart_every=0):
    """Replay ``events`` through a Monitor with rollouts; every ``restart_every`` batches the
    rollout state goes through JSON and is restored, as the worker's Redis round trip."""
    registry = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), registry)
    monitor = Monitor(registry, CONFIG, new_version_reference=mode, rollouts=Rollouts(CANARY))
    records = [RawRecord(orjson.dumps(e), 0, "f", 0, i) for i, e in enumerate(events)]
    alerts: list[tuple[int, Alert]] = []
    for number, start in enumerate(range(0, len(records), 500)):
        result = ingestor.ingest(records[start : start + 500])
        alerts += [(start, a) for a in monitor.process(result.accepted, result.positions).alerts]
        stored = monitor.rollouts.take_touched()
        if restart_every and number % restart_every == restart_every - 1:
            monitor.rollouts.forget()
            for model_id, snapshot in stored.items():
                monitor.rollouts.adopt(model_id, json.loads(json.dumps(snapshot)))
    return monitor, alerts


def canary_alerts(alerts):
    return [(at, a) for at, a in alerts if a.type == "canary"]


@pytest.mark.parametrize("seed", [0, 2])
def test_a_shifted_candidate_fails_within_6500_events_of_its_start(seed):
    # 10% of the traffic: 500 candidate events take about 5,000, plus the window's end.
    events = rollout_events(9000, score_shift=0.15, candidate_after=START, seed=seed)
    monitor, alerts = run(events)
    first_at, first = canary_alerts(alerts)[0]
    assert first.canary["verdict"] == "fail" and first.status == "firing"
    assert first.model_version == "v2" and first.canary["baseline"] == "v1"
    assert first_at < START + 6500
    failed = {c["name"] for c in first.canary["checks"] if c["outcome"] == "fail"}
    assert "score_distribution" in failed
    assert first.canary["events"]["candidate"] >= CANARY.min_events
    report = monitor.rollouts.models["rollout"].verdict("v1", "v2")
    assert report["verdict"] == "fail"


@pytest.mark.parametrize("seed", [0, 2])
def test_a_healthy_candidate_passes_within_10500_events_and_never_fails(seed):
    events = rollout_events(13_000, candidate_after=START, seed=seed)
    _, alerts = run(events)
    verdicts = [a.canary["verdict"] for _, a in canary_alerts(alerts)]
    assert verdicts and set(verdicts) == {"pass"}
    assert canary_alerts(alerts)[0][0] < START + 10_500


def test_a_new_version_inherits_the_reference_and_its_shift_is_prediction_drift():
    events = rollout_events(8000, score_shift=0.15, candidate_after=START, seed=3)
    inherit, inherited = run(events)
    own, owned = run(events, mode="own")
    drifted = {(a.model_version, a.feature) for _, a in inherited if a.type == "prediction_drift"}
    assert ("v2", "score") in drifted
    assert inherit.monitors["rollout", "v2"].profile.model_version == "v1"
    assert own.monitors["rollout", "v2"].profile is None  # learning its own from 1,000 events
    assert not [a for _, a in owned if a.type == "prediction_drift" and a.model_version == "v2"]


def test_an_inherited_reference_is_stored_as_the_new_versions():
    events = rollout_events(3000, candidate_after=START, seed=4)
    monitor, _ = run(events)
    stored = monitor.monitors["rollout", "v2"].take_new_profile()
    assert stored is not None and stored["model_version"] == "v1"


def test_a_reference_offered_from_storage_is_inherited():
    registry = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), registry)
    first = Monitor(registry, CONFIG)
    events = rollout_events(1500, seed=5)
    records = [RawRecord(orjson.dumps(e), 0, "f", 0, i) for i, e in enumerate(events)]
    result = ingestor.ingest(records)
    first.process(result.accepted, result.positions)
    profile = first.monitors["rollout", "v1"].profile
    later = Monitor(registry, CONFIG)  # a restarted worker: v1 not in memory
    assert later.needs_reference(("rollout", "v2"))
    later.offer_reference(profile)
    assert not later.needs_reference(("rollout", "v2"))
    v2 = [{**e, "model_version": "v2"} for e in rollout_events(10, seed=6)]
    result = ingestor.ingest([RawRecord(orjson.dumps(e), 0, "f", 0, i) for i, e in enumerate(v2)])
    later.process(result.accepted, result.positions)
    assert later.monitors["rollout", "v2"].profile is profile


def test_restored_state_continues_identically():
    events = rollout_events(9000, score_shift=0.15, candidate_after=START, seed=7)
    _, straight = run(events)
    _, restarted = run(events, restart_every=3)
    assert [a.to_dict() for _, a in canary_alerts(restarted)] == [
        a.to_dict() for _, a in canary_alerts(straight)
    ]


def test_the_snapshots_of_models_held_are_given_whether_touched_since_or_not():
    # What a worker writes again where Redis lost a model's keys: taken or not since.
    events = rollout_events(3000, candidate_after=START, seed=4, model_id="m")
    monitor, _ = run(events)  # ``run`` took the touched ones after each batch
    assert monitor.rollouts.take_touched() == {}
    held = monitor.rollouts.snapshots(["m", "unknown"])
    assert held.keys() == {"m"}
    assert held["m"] == monitor.rollouts.models["m"].snapshot()


def test_shadow_traffic_gives_agreement_and_correlation():
    events = rollout_events(8000, score_shift=0.15, shadow_share=0.1, candidate_after=START)
    monitor, _ = run(events)
    shadow = monitor.rollouts.models["rollout"].verdict("v1", "v2")["shadow"]
    assert shadow["pairs"] > 400
    # The shift moves scores by a constant (clipped): correlated, but some cross 0.5.
    assert shadow["score_correlation"] > 0.99
    assert 0.6 < shadow["agreement"] < 0.98


def test_shadow_memory_is_bounded():
    rollout = ModelRollout("m", CanaryConfig(shadow_max_pending=100))
    events = rollout_events(2000, model_id="m")
    records = [RawRecord(orjson.dumps(e), 0, "f", 0, i) for i, e in enumerate(events)]
    result = Ingestor(EventDecoder(), SpecRegistry(warmup_events=100)).ingest(records)
    rollout.observe(result.accepted, result.positions, frozenset({"true"}))
    assert len(rollout.shadow._pending) <= 100


def test_versions_in_different_periods_are_not_compared():
    first = rollout_events(3000, candidate_share=0.0, seed=8)
    later = [{**e, "model_version": "v2"} for e in rollout_events(3000, candidate_share=0.0,
             start_ms=1_790_000_000_000, seed=9)]  # fmt: skip
    monitor, alerts = run(first + later)
    assert not canary_alerts(alerts)
    assert monitor.rollouts.models["rollout"].verdict("v1", "v2") is None


def test_rate_check_fails_only_a_clear_difference_beyond_tolerance():
    common = {"min_events": 100, "alpha": 0.001, "tolerance": 0.05}
    assert rate_check("r", (100, 1000), (300, 1000), **common).outcome == "fail"
    assert rate_check("r", (100, 1000), (101, 1000), **common).outcome == "pass"
    assert rate_check("r", (10, 100), (25, 100), **common).outcome == "inconclusive"
    assert rate_check("r", (1, 50), (1, 50), **common).outcome == "inconclusive"


def test_malformed_rollout_state_is_refused():
    good = ModelRollout("m", CANARY).snapshot()
    for bad in ({**good, "pairs": [["v1", "v2", {"verdict": "maybe"}]]},
                {**good, "open": {"v1": {"events": -1}}, "versions": ["v1"]},
                {**good, "window": "soon"}):  # fmt: skip
        with pytest.raises(InvalidState):
            ModelRollout.restore(bad, "m", CANARY)
    tally = Tally().snapshot()
    with pytest.raises(InvalidState):
        Tally.restore({**tally, "scores": [1] * 50})  # more scores than events


@pytest.mark.parametrize(
    "environ",
    [{"DRIFTLINE_NEW_VERSION_REFERENCE": "latest"}, {"DRIFTLINE_CANARY_WINDOW_S": "0"},
     {"DRIFTLINE_CANARY_MIN_EVENTS": "5"}],
)  # fmt: skip
def test_rollout_settings_are_checked(environ):
    from streams.settings import Settings

    with pytest.raises(ValueError, match=next(iter(environ))):
        Settings.from_env(environ)
