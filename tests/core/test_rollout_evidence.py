"""Canary evidence beyond the scores (pure core): the rejection rate of each version and,
once labels arrive, the accuracy difference on the windows both versions ran in."""

from __future__ import annotations

import json

import numpy as np
import orjson

from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.contract.event import RawRecord
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.core.labels.labelled import LabelledPrediction
from streams.core.rollout import CanaryConfig, ModelRollout, Rollouts
from streams.simulation.rollout import rollout_events

CANARY = CanaryConfig(window_s=10)  # 1,000 events a window at 100 events/s
START = 2000


def _records(events):
    return [RawRecord(orjson.dumps(e), 0, "f", 0, i) for i, e in enumerate(events)]


def _monitor():
    registry = SpecRegistry(warmup_events=100)
    config = MonitorConfig(window_events=500, reference_events=1000)
    return Ingestor(EventDecoder(), registry), Monitor(registry, config, rollouts=Rollouts(CANARY))


def _failed(alert):
    return {c["name"] for c in alert.canary["checks"] if c["outcome"] == "fail"}


def test_rejections_name_the_version_only_of_a_known_model():
    ingestor = Ingestor(EventDecoder(), SpecRegistry(max_models=1, warmup_events=100))
    good = rollout_events(200, candidate_after=0, candidate_share=0.5)
    bad = dict(good[0], features={"x1": "broken", "x2": 1.0})
    stranger = dict(bad, model_id="stranger")
    result = ingestor.ingest(_records([*good, bad, stranger, {"model_id": "rollout"}]))
    named = [(r.model_id, r.model_version) for r in result.rejected]
    assert named == [("rollout", good[0]["model_version"]), (None, None), (None, None)]


def test_a_candidate_with_many_invalid_events_fails_on_its_rejection_rate():
    events = rollout_events(9000, candidate_after=START, seed=0)
    rng = np.random.default_rng(5)
    for i, event in enumerate(events):
        if event["model_version"] == "v2" and i > START + 500 and rng.random() < 0.3:
            event["features"]["x1"] = "broken"
    ingestor, monitor = _monitor()
    records, canary = _records(events), []
    for start in range(0, len(records), 500):
        result = ingestor.ingest(records[start : start + 500])
        outcome = monitor.process(result.accepted, result.positions, result.rejected)
        canary += [a for a in outcome.alerts if a.type == "canary"]
    assert [a.canary["verdict"] for a in canary] == ["fail"]
    assert _failed(canary[0]) == {"rejection_rate"}


def test_rejections_of_versions_never_seen_count_nowhere():
    rollouts = Rollouts(CANARY)
    ingestor, _ = _monitor()
    events = rollout_events(300, candidate_after=0)
    result = ingestor.ingest(_records(events))
    rollouts.observe(result.accepted, result.positions, lambda m, v: None)
    bad = [dict(events[0], model_version=f"made-up-{i}", score="x") for i in range(20)]
    rollouts.reject(ingestor.ingest(_records(bad)).rejected)
    assert rollouts.models["rollout"].versions == ["v1", "v2"]


def _labelled(events, flip, rng):
    """Each event labelled right 90% of the time, then flipped with ``flip(version)``."""
    pairs = []
    for e in events:
        at = _ms(e)
        truth = e["prediction"] ^ bool(rng.random() < 0.1) ^ bool(rng.random() < flip(e))
        named = (e["model_id"], e["model_version"], e["event_id"])
        pairs.append(LabelledPrediction(*named, e["prediction"], truth, e["score"], None, at, at))
    return pairs, [(0, i) for i in range(len(pairs))]


def _ms(event):
    # rollout_events: event i at 100 events/s from its default start.
    return 1_780_000_000_000 + int(event["event_id"].rsplit("-", 1)[1]) * 10


def _observed(events, config=CANARY):
    rollout = ModelRollout("rollout", config)
    ingestor, _ = _monitor()
    result = ingestor.ingest(_records(events))
    rollout.observe(result.accepted, result.positions, frozenset({"True"}))
    return rollout


def test_flipped_labels_of_the_candidate_fail_its_accuracy_and_survive_a_restore():
    events = rollout_events(9000, candidate_after=START, seed=2)
    rollout = _observed(events)
    rollout = ModelRollout.restore(json.loads(json.dumps(rollout.snapshot())), "rollout", CANARY)
    pairs, at = _labelled(
        events, lambda e: 0.3 * (e["model_version"] == "v2"), np.random.default_rng(1)
    )
    alerts = rollout.label(pairs, at)
    assert [a.canary["verdict"] for a in alerts] == ["fail"]
    assert _failed(alerts[0]) == {"accuracy"}
    found = rollout.verdict("v1", "v2")
    accuracy = next(c for c in found["checks"] if c["name"] == "accuracy")
    assert accuracy["evidence"]["interval"][1] < 0 and accuracy["value"] < -0.05


def test_labels_of_a_forgotten_window_count_nowhere():
    events = rollout_events(9000, candidate_after=START, seed=2)
    rollout = _observed(events, CanaryConfig(window_s=10, label_windows=2))
    assert len(rollout.paired) == 2
    pairs, at = _labelled(events[:6000], lambda e: 1.0, np.random.default_rng(1))
    assert rollout.label(pairs, at) == []
    assert rollout.pairs["v1", "v2"].candidate.labelled == 0
