"""Simulated labels: valid label events, calibrated to the scores, flipped on request."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from streams.core import LabelDecoder, RawRecord
from streams.simulation import StreamConfig, generate_events, keyed_labels

CONFIG = StreamConfig(model_id="sim-labels", seed=11)
CHUNK = next(generate_events(CONFIG, 10_000))  # one chunk


def labels(flip_rate: float = 0.0) -> np.ndarray:
    records = keyed_labels(CONFIG, CHUNK, flip_rate=flip_rate)
    return np.array([orjson.loads(value)["label"] for _, value in records])


def test_every_label_is_a_valid_label_event_for_its_prediction():
    records = keyed_labels(CONFIG, CHUNK, delay_ms=5_000)
    decoded = [LabelDecoder().decode(RawRecord(v, 0, "labels", 0, i))
               for i, (_, v) in enumerate(records)]  # fmt: skip
    assert [label.event_id for label in decoded[:2]] == ["sim-labels-0", "sim-labels-1"]
    assert {key for key, _ in records} == {b"sim-labels"}
    assert decoded[0].timestamp_ms == int(CHUNK.timestamps_ms[0]) + 5_000


def test_labels_are_calibrated_to_the_scores_and_repeatable():
    drawn = labels()
    assert drawn.mean() == pytest.approx(CHUNK.score.mean(), abs=0.01)
    assert np.array_equal(drawn, labels())


def test_flipped_labels_lower_the_accuracy():
    accuracy = (labels() == CHUNK.prediction).mean()
    flipped = (labels(flip_rate=0.4) == CHUNK.prediction).mean()
    assert flipped < accuracy - 0.1
