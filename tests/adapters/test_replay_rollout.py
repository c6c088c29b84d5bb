"""``driftline replay`` of a rollout: canary verdicts and the inherited reference, the same
core as the worker (one replay per case, 9,000 events, v2 on 10% from event 2,000)."""

from __future__ import annotations

import orjson
import pytest

from streams.simulation.rollout import rollout_events

START = 2000


@pytest.fixture
def replay_rollout(tmp_path, run_replay, monkeypatch):
    for name, value in {"DRIFTLINE_REFERENCE_EVENTS": "1000", "DRIFTLINE_WINDOW_EVENTS": "500",
                        "DRIFTLINE_CANARY_WINDOW_S": "10"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)

    def replay(shift: float, *, mode: str = "inherit") -> list[dict]:
        monkeypatch.setenv("DRIFTLINE_NEW_VERSION_REFERENCE", mode)
        events = tmp_path / f"rollout-{shift}-{mode}.jsonl"
        lines = rollout_events(9000, score_shift=shift, candidate_after=START, seed=1)
        events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in lines))
        done = run_replay(events)
        return [orjson.loads(line) for line in done.stdout.splitlines()]

    return replay


def test_a_shifted_v2_fails_its_canary_and_drifts_from_v1s_reference(replay_rollout):
    alerts = replay_rollout(0.15)
    canary = [a for a in alerts if a["type"] == "canary"]
    assert [(a["model_version"], a["canary"]["verdict"]) for a in canary] == [("v2", "fail")]
    assert int(canary[0]["trigger"]["event_id"].rsplit("-", 1)[1]) < START + 6500
    assert canary[0]["canary"]["baseline"] == "v1"
    drift = {(a["model_version"], a["feature"]) for a in alerts if a["type"] == "prediction_drift"}
    assert ("v2", "score") in drift


def test_a_healthy_v2_passes(replay_rollout):
    alerts = replay_rollout(0.0)
    verdicts = [a["canary"]["verdict"] for a in alerts if a["type"] == "canary"]
    assert verdicts == ["pass"]
    assert not [a for a in alerts if a["type"] == "prediction_drift" and a["model_version"] == "v2"]


def test_own_reference_learns_the_shift(replay_rollout):
    alerts = replay_rollout(0.15, mode="own")
    assert not [a for a in alerts if a["type"] == "prediction_drift" and a["model_version"] == "v2"]
    # The canary compares versions, whatever their references: it still fails.
    assert [a["canary"]["verdict"] for a in alerts if a["type"] == "canary"] == ["fail"]
