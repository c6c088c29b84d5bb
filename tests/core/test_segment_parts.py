"""The parts of per-segment checks: Space-Saving's top values, thresholds for a share of the
budget, the spec's ``segments`` and the alert's ``segment``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from streams.core.alerts.alert import Alert, Segment, Trigger, Window
from streams.core.contract.spec import ModelSpec
from streams.core.detectors import default_configs
from streams.core.detectors.cusum_budget import Reference, false_alarm_probability
from streams.core.errors import InvalidSpec, InvalidState
from streams.core.segments import split_configs
from streams.core.segments.budget import split_z
from streams.core.segments.top_k import (
    count_values,
    top_values,
    value_counter,
    value_counter_restored,
)

SCHEMAS = Path(__file__).parents[2] / "schemas"


def test_space_saving_finds_the_heavy_values_of_a_long_tail_in_bounded_memory():
    rng = np.random.default_rng(2)
    heavy = [f"h{i}" for i in range(5)]
    stream = [*heavy * 400, *(f"tail{i}" for i in rng.integers(0, 50_000, 8000))]
    order = rng.permutation(len(stream))
    top = value_counter(50)
    count_values(top, (stream[i] for i in order))
    assert sorted(top_values(top, 5)) == heavy
    assert len(top.snapshot()["tracked"]) == 50
    # Space-Saving's invariant: the counts add up to the events counted.
    assert sum(entry.count for entry in top.tracked.values()) == len(stream)


def test_space_saving_restores_and_refuses_garbage():
    top = value_counter(3)
    count_values(top, "aabbbcd")
    again = value_counter_restored(json.loads(json.dumps(top.snapshot())), 3)
    count_values(top, "ddd")
    count_values(again, "ddd")
    assert again.snapshot() == top.snapshot()
    assert top_values(again, 3) == top_values(top, 3)
    with pytest.raises(InvalidState):
        value_counter_restored({"tracked": [["a", 5, 9, [], 0, 0, [], [0, [], 0, []]]]}, 3)


def test_one_part_keeps_every_threshold():
    configs = default_configs()
    assert split_configs(configs, 1, window_events=1000, reference_events=5000) == configs


@pytest.mark.parametrize("parts", [2, 21, 84])
def test_every_threshold_rises_with_the_parts(parts):
    before = default_configs()
    after = split_configs(before, parts, window_events=1000, reference_events=5000)
    for name, config in after.items():
        old = before[name]
        bar = "z" if hasattr(config, "z") else "threshold"
        assert getattr(config, bar) > getattr(old, bar), name


def test_a_split_critical_value_has_one_part_of_the_tail():
    for z in (3.0, 6.0):
        tail = 0.5 * math.erfc(z / math.sqrt(2))
        assert 0.5 * math.erfc(split_z(z, 21) / math.sqrt(2)) == pytest.approx(tail / 21)
    assert split_z(40.0, 21) == pytest.approx(math.sqrt(1600 + 2 * math.log(21)))


def test_cusum_gets_its_share_of_the_budget():
    before = default_configs()["cusum"]
    after = split_configs(default_configs(), 21, window_events=1000, reference_events=5000)
    reference = Reference(reference_events=5000)
    alpha = false_alarm_probability(before.k, before.threshold, 10_000, reference)
    assert (
        false_alarm_probability(before.k, after["cusum"].threshold, 10_000, reference) <= alpha / 21
    )


def test_spec_segments_round_trip_and_are_checked():
    raw = {"model_id": "m", "features": {"x": {"type": "number"}}, "segments": ["region"],
           "segments_top_k": 5}  # fmt: skip
    spec = ModelSpec.from_dict(raw)
    assert (spec.segments, spec.segments_top_k) == (("region",), 5)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    schema = Draft202012Validator(json.loads((SCHEMAS / "model_spec.json").read_text()))
    schema.validate(spec.to_dict())
    assert ModelSpec.from_dict({"model_id": "m", "features": {}}).segments_top_k == 20
    for bad in ({"segments": "region"}, {"segments": ["a", "a"]}, {"segments_top_k": 0},
                {"segments": ["a\n"]}):  # fmt: skip
        with pytest.raises(InvalidSpec):
            ModelSpec.from_dict({**raw, **bad})


def test_a_segment_alert_has_its_own_ids_and_a_valid_segment():
    common = dict(type="data_drift", status="firing", severity="warning", model_id="m",
                  model_version="v1", feature="x", detector="psi", statistic_name="psi",
                  value=0.3, threshold=0.1, window=Window(0, 1, 1000),
                  trigger=Trigger("e", 0, 1, 1), episode="drift/w3")  # fmt: skip
    plain = Alert(**common)
    segmented = Alert(**common, segment=Segment("region", "eu"))
    assert "segment" not in plain.to_dict()
    assert segmented.episode_id != plain.episode_id
    schema = Draft202012Validator(json.loads((SCHEMAS / "alert.json").read_text()))
    schema.validate(segmented.to_dict())
    assert segmented.to_dict()["segment"] == {"attribute": "region", "value": "eu"}
