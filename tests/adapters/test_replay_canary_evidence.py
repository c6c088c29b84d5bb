"""``driftline replay`` of a rollout whose candidate is judged by more than its scores: its
rejection rate (many invalid events) and, once labels arrive, its accuracy beside the
baseline's on the same windows (9,000 events, v2 on 10% from event 2,000)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from streams.simulation.rollout import rollout_events

START = 2000


@pytest.fixture
def rollout(tmp_path, monkeypatch):
    for name, value in {"DRIFTLINE_REFERENCE_EVENTS": "1000", "DRIFTLINE_WINDOW_EVENTS": "500",
                        "DRIFTLINE_CANARY_WINDOW_S": "10"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    return rollout_events(9000, candidate_after=START, seed=1)


def _write(path, rows):
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


def _canary(done):
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    return [a for a in alerts if a["type"] == "canary"]


def _failed(alert):
    return {c["name"] for c in alert["canary"]["checks"] if c["outcome"] == "fail"}


def test_a_candidate_with_many_invalid_events_fails_on_its_rejection_rate(
    rollout, tmp_path, run_replay
):
    rng = np.random.default_rng(3)
    for i, event in enumerate(rollout):
        # Past the candidate's first events (its spec is learned): 30% of the wrong type.
        if event["model_version"] == "v2" and i > START + 500 and rng.random() < 0.3:
            event["features"]["x1"] = "broken"
    dlq = tmp_path / "dlq.jsonl"
    done = run_replay(_write(tmp_path / "events.jsonl", rollout), "--dlq", dlq)
    canary = _canary(done)
    assert [(a["model_version"], a["canary"]["verdict"]) for a in canary] == [("v2", "fail")]
    assert _failed(canary[0]) == {"rejection_rate"}
    rate = next(c for c in canary[0]["canary"]["checks"] if c["name"] == "rejection_rate")
    assert rate["evidence"]["baseline"] == 0 and 0.15 < rate["evidence"]["candidate"] < 0.35
    assert len(dlq.read_bytes().splitlines()) > 100


def test_a_candidate_whose_labels_are_30pct_flipped_fails_on_accuracy(
    rollout, tmp_path, run_replay
):
    rng = np.random.default_rng(4)
    labels = []
    for event in rollout:
        # Both versions right 90% of the time, the candidate's then flipped 30% more.
        truth = event["prediction"] ^ bool(rng.random() < 0.1)
        if event["model_version"] == "v2" and rng.random() < 0.3:
            truth = not truth
        labels.append({"event_id": event["event_id"], "model_id": event["model_id"],
                       "label": truth, "timestamp": event["timestamp"]})  # fmt: skip
    events = _write(tmp_path / "events.jsonl", rollout)
    done = run_replay(events, "--labels", _write(tmp_path / "labels.jsonl", labels))
    canary = _canary(done)
    # The scores alone pass it; the labels then fail it on accuracy alone.
    assert [a["canary"]["verdict"] for a in canary] == ["pass", "fail"]
    assert _failed(canary[1]) == {"accuracy"}
    accuracy = next(c for c in canary[1]["canary"]["checks"] if c["name"] == "accuracy")
    assert accuracy["evidence"]["interval"][1] < 0 and accuracy["value"] < -0.05
    assert accuracy["evidence"]["events"]["candidate"] >= 200


def test_healthy_labels_keep_the_pass(rollout, tmp_path, run_replay):
    rng = np.random.default_rng(5)
    labels = [
        {"event_id": e["event_id"], "model_id": e["model_id"],
         "label": e["prediction"] ^ bool(rng.random() < 0.1), "timestamp": e["timestamp"]}
        for e in rollout
    ]  # fmt: skip
    events = _write(tmp_path / "events.jsonl", rollout)
    done = run_replay(events, "--labels", _write(tmp_path / "labels.jsonl", labels))
    canary = _canary(done)
    # Passed on its scores; with labels it needs the accuracy too, and passes again on it.
    assert [a["canary"]["verdict"] for a in canary] == ["pass", "pass"]
    assert "accuracy" not in {c["name"] for c in canary[0]["canary"]["checks"]}
    accuracy = next(c for c in canary[1]["canary"]["checks"] if c["name"] == "accuracy")
    assert accuracy["outcome"] == "pass" and abs(accuracy["value"]) < 0.05
