"""A number-valued category counts by its value, whether it came from a CSV cell or JSON."""

from __future__ import annotations

import csv
import subprocess
import sys

import orjson
import pytest

from streams.core.contract.columns import category_of
from streams.simulation import StreamConfig, write_jsonl


@pytest.mark.parametrize(
    ("value", "text"),
    [(1, "1"), (1.0, "1"), (0.0, "0"), (-0.0, "0"), (-3.0, "-3"), (2.5, "2.5"),
     (True, "true"), ("1.0", "1.0"), (None, None), (1e300, "1e+300")],
)  # fmt: skip
def test_a_category_is_one_text_per_value(value, text):
    assert category_of(value) == text


def _as_csv(events_path, csv_path):
    """Flat rows of features and outputs, as a training export would have them."""
    rows = [orjson.loads(line) for line in events_path.read_bytes().splitlines()]
    names = [*rows[0]["features"], "score", "prediction"]
    with csv_path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(names)
        for row in rows:
            outputs = {"score": row["score"], "prediction": row["prediction"]}
            writer.writerow([{**row["features"], **outputs}[name] for name in names])


def test_a_csv_profile_judges_json_events_of_the_same_distribution_as_unchanged(tmp_path):
    training, events = tmp_path / "train.jsonl", tmp_path / "events.jsonl"
    write_jsonl(training, StreamConfig(seed=4), 5_000)
    write_jsonl(events, StreamConfig(seed=4), 4_000, offset=5_000)
    _as_csv(training, tmp_path / "train.csv")

    def cli(*args: str) -> bytes:
        command = [sys.executable, "-m", "streams.cli", *args]
        return subprocess.run(command, capture_output=True, check=True).stdout

    profile = tmp_path / "p.json"
    cli("profile", str(tmp_path / "train.csv"), "--model-id", "sim-model", "--out", str(profile))
    assert set(orjson.loads(profile.read_bytes())["features"]["prediction"]["categories"]) == {
        "0", "1"
    }  # fmt: skip
    replayed = cli("replay", str(events), "--profile", str(profile), "--reference-events", "100000")
    alerts = [orjson.loads(line) for line in replayed.splitlines()]
    assert [a["type"] for a in alerts if a["type"] == "prediction_drift"] == []
