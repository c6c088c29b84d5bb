"""``profile`` on too few rows and ``replay --profile`` of another model: said in the user's
terms (rows and their minimum; both models' ids)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.simulation import StreamConfig, write_jsonl


@pytest.fixture(autouse=True)
def _own_settings(monkeypatch, tmp_path):
    # A DRIFTLINE_* of the caller's shell must not change what the commands do.
    for name in [name for name in os.environ if name.startswith("DRIFTLINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _training(rows: int) -> str:
    lines = ["age,plan,prediction"] + [f"{30 + i % 7},{'ab'[i % 2]},{i % 2}" for i in range(rows)]
    path = f"train-{rows}.csv"
    with open(path, "w") as file:
        file.write("\n".join(lines))
    return path


def test_a_five_row_file_is_refused_naming_the_rows_and_the_minimum(capsys):
    assert main(["profile", _training(5), "--model-id", "churn"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert "train-5.csv: 5 rows; a profile needs at least 10" in err


def test_a_file_smaller_than_a_window_is_profiled_with_a_warning(capsys):
    assert main(["profile", _training(12), "--model-id", "churn", "--out", "p.json"]) == 0
    err = capsys.readouterr().err
    assert "warning: train-12.csv has 12 rows, fewer than one window of 1000 events" in err
    assert orjson.loads(Path("p.json").read_bytes())["model_id"] == "churn"


def test_a_file_of_a_window_or_more_is_profiled_without_a_warning(capsys):
    assert main(["profile", _training(1000), "--model-id", "churn", "--out", "p.json"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_replay_with_another_models_profile_names_both_models(capsys):
    main(["profile", _training(1000), "--model-id", "churn", "--out", "p.json"])
    write_jsonl("events.jsonl", StreamConfig(model_id="fraud", seed=1), 600)
    capsys.readouterr()
    assert main(["replay", "events.jsonl", "--profile", "p.json"]) == 0
    warning = capsys.readouterr().err.splitlines()[-1]
    assert "--profile p.json is of churn v1" in warning
    assert "the events judged were of: fraud v1; it was not used" in warning


def test_replay_with_the_models_own_profile_says_nothing_of_it(capsys):
    write_jsonl("train.jsonl", StreamConfig(model_id="fraud", seed=1), 1000)
    main(["profile", "train.jsonl", "--model-id", "fraud", "--out", "p.json"])
    write_jsonl("events.jsonl", StreamConfig(model_id="fraud", seed=1), 600, offset=1000)
    capsys.readouterr()
    assert main(["replay", "events.jsonl", "--profile", "p.json"]) == 0
    assert "warning" not in capsys.readouterr().err
