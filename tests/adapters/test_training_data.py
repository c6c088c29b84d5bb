"""Profiles from training data, and a replay that judges against one from the first event."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import orjson
import pytest

from streams.adapters.files.training_data import profile_from_file
from streams.core import InvalidSpec
from streams.simulation import Scenario, StreamConfig, write_jsonl


def test_a_csv_profile_has_types_bins_missing_rates_and_outputs(tmp_path):
    rng = np.random.default_rng(0)
    lines = ["age,plan,score,prediction"]
    for i in range(1000):
        age = "" if i % 10 == 0 else f"{rng.normal(40, 10):.1f}"
        lines.append(f"{age},{'gold' if i % 3 else 'basic'},{rng.random():.3f},{i % 2}")
    training = tmp_path / "train.csv"
    training.write_text("\n".join(lines))
    profile = profile_from_file(training, model_id="churn", model_version="v2")
    assert (profile.model_id, profile.model_version) == ("churn", "v2")
    assert profile.numeric["age"].missing_rate == pytest.approx(0.1)
    assert profile.numeric["age"].bins == 10
    assert profile.categorical["plan"].categories == ("gold", "basic")
    assert "score" in profile.numeric and "prediction" in profile.categorical
    assert profile.anomaly is not None and profile.anomaly.mean.size == 1


def test_an_empty_training_file_is_an_error(tmp_path):
    empty = tmp_path / "train.jsonl"
    empty.write_text("\n")
    with pytest.raises(InvalidSpec, match="no rows"):
        profile_from_file(empty, model_id="m", model_version="v1")


def test_replay_judges_against_a_training_profile_from_the_first_event(tmp_path):
    training, events = tmp_path / "train.jsonl", tmp_path / "events.jsonl"
    write_jsonl(training, StreamConfig(seed=1), 5_000)
    # The same population, later: events 5,000-8,999, x7 shifting from event 6,500 (line 1,500).
    drift = Scenario(kind="abrupt", feature="x7", start=6_500, magnitude=1.0)
    write_jsonl(events, StreamConfig(seed=1, scenarios=(drift,)), 4_000, offset=5_000)

    def cli(*args: str) -> bytes:
        command = [sys.executable, "-m", "streams.cli", *args]
        return subprocess.run(command, capture_output=True, check=True).stdout

    cli("profile", str(training), "--model-id", "sim-model", "--out", str(tmp_path / "p.json"))
    # Without the profile the reference would need 100,000 events: nothing could fire.
    replayed = cli(
        "replay", str(events), "--profile", str(tmp_path / "p.json"),
        "--reference-events", "100000",
    )  # fmt: skip
    alerts = [orjson.loads(line) for line in replayed.splitlines()]
    assert [(a["feature"], a["type"]) for a in alerts if a["type"] == "data_drift"] == [
        ("x7", "data_drift")
    ]
    assert 1_500 < alerts[0]["trigger"]["offset"] <= 3_500
