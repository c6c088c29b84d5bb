"""``driftline profile ... --labels FILE``: a labelled validation set's metrics, with their
uncertainty, stored with the profile and used by ``replay --profile`` as the reference."""

from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import orjson
import pytest

from streams.core.drift.profile import ReferenceProfile
from streams.core.errors import InvalidState
from streams.core.labels.label_reference import LabelReference
from streams.simulation import StreamConfig, generate_events, keyed_labels, write_jsonl
from tests.json_mutations import refusals

CONFIG = StreamConfig(model_id="validated", seed=11)


def validation_rows(count: int) -> list[dict]:
    """Healthy labelled predictions of ``CONFIG``'s model, from events the replay never sees."""
    rows = []
    for chunk in generate_events(CONFIG, count, offset=100_000):
        labels = [orjson.loads(v)["label"] for _, v in keyed_labels(CONFIG, chunk)]
        outputs = zip(chunk.prediction.tolist(), labels, chunk.score.tolist(), strict=True)
        rows += [{"prediction": p, "label": y, "score": s} for p, y, s in outputs]
    return rows


def write_rows(path, rows) -> None:
    if path.suffix == ".csv":
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=["prediction", "label", "score"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))


def driftline(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *map(str, args)],
                          capture_output=True, check=True)  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_profile_labels_round_trip(tmp_path, suffix):
    training, validation, out = tmp_path / "train.jsonl", tmp_path / f"val{suffix}", tmp_path / "p"
    write_jsonl(training, CONFIG, 2_000)
    rows = validation_rows(3_000)
    write_rows(validation, rows)
    driftline("profile", training, "--model-id", "validated", "--labels", validation,
              "--out", out)  # fmt: skip
    stored = orjson.loads(out.read_bytes())
    ReferenceProfile.from_dict(stored)  # the drift side still reads it
    reference = LabelReference.from_dict(stored["labels"])
    accuracy = np.mean([r["prediction"] == r["label"] for r in rows])
    assert reference.source == "validation" and reference.count == 3_000
    assert reference.estimates["accuracy"].value == pytest.approx(accuracy)
    assert 0.8 < reference.estimates["roc_auc"].value < 0.9
    assert 0 < reference.estimates["roc_auc"].se < 0.02  # its uncertainty is stored too


def test_profile_labels_without_a_label_column_is_a_user_error(tmp_path):
    training, validation = tmp_path / "train.jsonl", tmp_path / "val.csv"
    write_jsonl(training, CONFIG, 500)
    validation.write_text("prediction,score\n1,0.7\n")
    done = subprocess.run([sys.executable, "-m", "streams.cli", "profile", str(training),
                           "--model-id", "validated", "--labels", str(validation)],
                          capture_output=True)  # fmt: skip
    assert done.returncode != 0 and b"needs a prediction and a label" in done.stderr


def test_replay_judges_against_the_profiles_reference(tmp_path, run_replay):
    """3,000 labels, 45% flipped: too few to learn a 10,000-label reference from the stream,
    but a profile with a validation set's reference catches the fall."""
    events, labels, validation = (tmp_path / n for n in ("e.jsonl", "l.jsonl", "v.csv"))
    write_jsonl(events, CONFIG, 3_000)
    flipped = [v for chunk in generate_events(CONFIG, 3_000)
               for _, v in keyed_labels(CONFIG, chunk, flip_rate=0.45)]  # fmt: skip
    labels.write_bytes(b"\n".join(flipped) + b"\n")
    write_rows(validation, validation_rows(5_000))
    profile = tmp_path / "profile.json"
    driftline("profile", events, "--model-id", "validated", "--labels", validation,
              "--out", profile)  # fmt: skip

    def performance(*extra) -> list[dict]:
        done = run_replay(events, "--labels", labels, *extra)
        alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
        return [a for a in alerts if a["type"] == "performance"]

    assert performance() == []
    caught = performance("--profile", profile)
    # The window checks' confident drop, or the ROC AUC CUSUM (often first on a sharp fall).
    names = {a["statistic"]["name"] for a in caught}
    assert caught and any(n.endswith("_drop_lower_bound") or n == "auc_placement_cusum"
                          for n in names)  # fmt: skip


def test_a_labels_reference_broken_anywhere_raises_invalid_state_and_nothing_else(tmp_path):
    """A hand-edited or corrupted reference in a profile file or Redis is refused as such;
    a task of the wrong shape used to raise a TypeError."""
    training, validation, out = tmp_path / "train.jsonl", tmp_path / "val.jsonl", tmp_path / "p"
    write_jsonl(training, CONFIG, 1_000)
    write_rows(validation, validation_rows(1_000))
    driftline("profile", training, "--model-id", "validated", "--labels", validation,
              "--out", out)  # fmt: skip
    document = orjson.loads(out.read_bytes())["labels"]
    # Nodes deeper than 3 are left out: the lists of quantiles repeat one check per item.
    assert refusals(document, LabelReference.from_dict, InvalidState, max_depth=3) > 100
