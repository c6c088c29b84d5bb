from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.core import InvalidEvent, InvalidSpec, ModelSpec, Reason
from streams.core.contract.decoder import EventDecoder
from tests.core.conftest import event_dict, record
from tests.json_mutations import refusals

SPEC = {
    "model_id": "churn",
    "task": "classification",
    "features": {
        "age": {"type": "number", "min": 0, "max": 130},
        "income": {"type": "number", "required": False},
        "plan": {"type": "string", "categories": ["basic", "gold"], "pii": False},
        "active": {"type": "boolean", "nullable": False},
    },
    "attributes": {"gender": {"pii": True}},
}


def check(spec: dict, **overrides) -> None:
    event = EventDecoder().decode(record(event_dict(**overrides)))
    ModelSpec.from_dict(spec).check(event, message_bytes=500)


def rejection(spec: dict, **overrides) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        check(spec, **overrides)
    return caught.value


def test_a_conforming_event_passes():
    check(SPEC)
    check(SPEC, features={"age": 30, "plan": "basic", "active": False})


@pytest.mark.parametrize(
    ("features", "reason", "field"),
    [
        ({"plan": "gold", "active": True}, Reason.MISSING_FEATURE, "features.age"),
        ({"age": "41", "plan": "gold", "active": True}, Reason.WRONG_TYPE, "features.age"),
        ({"age": True, "plan": "gold", "active": True}, Reason.WRONG_TYPE, "features.age"),
        ({"age": 131, "plan": "gold", "active": True}, Reason.OUT_OF_RANGE, "features.age"),
        ({"age": -0.5, "plan": "gold", "active": True}, Reason.OUT_OF_RANGE, "features.age"),
        ({"age": 4, "plan": "platinum", "active": True}, Reason.UNKNOWN_CATEGORY, "features.plan"),
        ({"age": 4, "plan": "gold", "active": None}, Reason.WRONG_TYPE, "features.active"),
        ({"age": 4, "plan": "gold", "active": 1}, Reason.WRONG_TYPE, "features.active"),
        (
            {"age": 4, "plan": "gold", "active": True, "zip": 1},
            Reason.UNKNOWN_FEATURE,
            "features.zip",
        ),
    ],
)
def test_feature_rules(features, reason, field):
    error = rejection(SPEC, features=features)
    assert (error.reason, error.field) == (reason, field)


def test_null_means_missing_and_passes_a_nullable_feature():
    check(SPEC, features={"age": None, "plan": None, "active": True})


def test_values_are_checked_even_when_the_shape_was_seen_before():
    spec = ModelSpec.from_dict(SPEC)
    decoder = EventDecoder()
    good = decoder.decode(record(event_dict(features={"age": 4, "plan": "gold", "active": True})))
    bad = decoder.decode(record(event_dict(features={"age": 400, "plan": "gold", "active": True})))
    spec.check(good, 100)
    with pytest.raises(InvalidEvent, match="outside"):
        spec.check(bad, 100)


def test_extra_features_pass_when_allowed():
    check(
        {**SPEC, "allow_extra_features": True},
        features={"age": 4, "plan": None, "active": True, "zip": 1},
    )


def test_classifier_scores_lie_in_the_unit_interval():
    assert rejection(SPEC, score=1.5).field == "score"
    check({**SPEC, "task": "regression"}, score=1.5)


def test_the_models_own_limits_tighten_the_workers():
    spec = ModelSpec.from_dict({**SPEC, "max_message_bytes": 256})
    event = EventDecoder().decode(record(event_dict()))
    with pytest.raises(InvalidEvent) as caught:
        spec.check(event, message_bytes=300)
    assert caught.value.reason is Reason.TOO_LARGE
    many = {"age": 1, "active": True} | {f"x{i}": 1 for i in range(5)}
    error = rejection({**SPEC, "max_features": 3, "allow_extra_features": True}, features=many)
    assert error.reason is Reason.TOO_MANY_FEATURES


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": {"a": {"type": "text"}}}, "type must be"),
        ({"features": {"a": {"type": "string", "min": 1}}}, "numbers only"),
        ({"features": {"a": {"type": "number", "max": float("inf")}}}, "finite"),
        ({"features": {"a": {"type": "number", "categories": ["x"]}}}, "categories"),
        ({"features": {"a": {"type": "string", "categories": []}}}, "categories"),
        ({"features": []}, "features must be an object"),
        ({"model_id": ""}, "model_id"),
        ({"task": "ranking"}, "task"),
        ({"max_features": 0}, "max_features"),
        ({"max_message_bytes": 10**9}, "max_message_bytes"),
    ],
)
def test_malformed_specs_say_what_is_wrong(change, message):
    with pytest.raises(InvalidSpec, match=message):
        ModelSpec.from_dict({**SPEC, **change})


def test_to_dict_round_trips():
    spec = ModelSpec.from_dict(SPEC)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.pii_attributes == frozenset({"gender"})


SPEC_EXAMPLES = sorted(
    (Path(__file__).parents[2] / "schemas/examples/model_spec/valid").glob("*.json")
)


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=lambda p: p.stem)
def test_the_schemas_valid_spec_examples_load(path):
    spec = ModelSpec.from_dict(json.loads(path.read_text()))
    assert spec.features


def test_performance_settings_load_and_round_trip():
    raw = {**SPEC, "performance": {"positive_class": "churn", "fairness": [
        {"attribute": "gender", "reference_group": "female", "min_group_size": 200},
    ]}}  # fmt: skip
    spec = ModelSpec.from_dict(raw)
    assert spec.positive_class == "churn"
    (policy,) = spec.fairness
    assert (policy.attribute, policy.reference_group, policy.min_group_size) == (
        "gender", "female", 200,
    )  # fmt: skip
    assert policy.min_disparate_impact == 0.8
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("fairness", "message"),
    [
        ({"attribute": "gender"}, "fairness"),
        ({"attribute": "gender", "reference_group": "f", "threshold": 1}, "threshold"),
        ({"attribute": "gender", "reference_group": "f", "min_disparate_impact": 2}, "fairness"),
    ],
)
def test_bad_fairness_settings_say_what_is_wrong(fairness, message):
    with pytest.raises(InvalidSpec, match=message):
        ModelSpec.from_dict({**SPEC, "performance": {"fairness": [fairness]}})


@pytest.mark.parametrize(
    ("detectors", "says"),
    [
        ({"kswin": {}}, "unknown detector 'kswin'"),
        ({"psi": {"treshold": 0.2}}, "unknown setting 'treshold'"),
        ({"psi": {"threshold": "0.2"}}, "threshold must be a number"),
        ({"psi": {"threshold": -1}}, "threshold must be positive"),
        ({"adwin": {"min_blocks": 2.5}}, "min_blocks must be an integer"),
        ({"cusum": {"enabled": 1}}, "enabled must be true or false"),
        ({"psi": 0.2}, "settings are an object"),
    ],
)
def test_detector_settings_are_checked_when_the_spec_is_loaded(detectors, says):
    raw = {"model_id": "m", "features": {"x": {"type": "number"}}}
    per_feature = {**raw, "features": {"x": {"type": "number", "detectors": detectors}}}
    for spec in ({**raw, "detectors": detectors}, per_feature):
        with pytest.raises(InvalidSpec, match=says):
            ModelSpec.from_dict(spec)


def test_detector_settings_round_trip():
    feature = {"type": "number", "detectors": {"cusum": {"enabled": True}}}
    raw = {"model_id": "m", "detectors": {"psi": {"threshold": 0.2}}, "features": {"x": feature}}
    spec = ModelSpec.from_dict(raw)
    assert spec.detectors == {"psi": {"threshold": 0.2}}
    assert spec.features["x"].detectors == {"cusum": {"enabled": True}}
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert "detectors" not in ModelSpec.from_dict({**raw, "detectors": None}).to_dict()


def test_a_latency_objective_loads_round_trips_and_is_optional():
    spec = ModelSpec.from_dict({**SPEC, "latency_objective_ms": 50})
    assert spec.latency_objective_ms == 50.0
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert ModelSpec.from_dict(SPEC).latency_objective_ms is None
    assert "latency_objective_ms" not in ModelSpec.from_dict(SPEC).to_dict()


@pytest.mark.parametrize("objective", [0, -5, "50", True, float("inf"), float("nan"), 3_600_001])
def test_a_bad_latency_objective_says_what_is_wrong(objective):
    with pytest.raises(InvalidSpec, match="latency_objective_ms must be a number in"):
        ModelSpec.from_dict({**SPEC, "latency_objective_ms": objective})


@pytest.mark.parametrize("path", SPEC_EXAMPLES, ids=lambda p: p.stem)
def test_a_spec_broken_anywhere_raises_invalid_spec_and_nothing_else(path):
    """Specs come from files and from Redis, hand-written too: a malformed one is named,
    never an AttributeError from deep inside (which stopped `replay --spec` with a
    traceback, and would stop a worker's spec refresh)."""
    document = json.loads(path.read_text())
    assert refusals(document, ModelSpec.from_dict, InvalidSpec) > 50  # the checks were reached
