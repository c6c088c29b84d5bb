from __future__ import annotations

import pytest

from streams.core import EventDecoder, InvalidEvent, ModelSpec, Reason, SpecRegistry
from tests.core.conftest import event_dict, record


def event(**overrides):
    return EventDecoder().decode(record(event_dict(**overrides)))


def test_an_unknown_model_is_learned_from_its_warm_up_window():
    registry = SpecRegistry(warmup_events=3)
    registry.check(event(features={"age": 40, "plan": "gold"}), 100)
    registry.check(event(features={"age": 41.5, "plan": None}), 100)
    assert registry.spec_for("churn", "v3") is None
    registry.check(event(features={"age": None, "plan": "basic", "zip": "1000"}), 100)

    spec = registry.spec_for("churn", "v3")
    assert spec is not None and spec.source == "inferred"
    assert {name: (f.type, f.required) for name, f in spec.features.items()} == {
        "age": ("number", True),
        "plan": ("string", True),
        "zip": ("string", False),
    }
    assert spec.task == "classification"
    assert registry.take_inferred() == [spec]
    assert registry.take_inferred() == []
    with pytest.raises(InvalidEvent) as caught:
        registry.check(event(features={"age": "old", "plan": "gold"}), 100)
    assert caught.value.reason is Reason.WRONG_TYPE


def test_a_numeric_unscored_model_is_inferred_as_a_regressor():
    registry = SpecRegistry(warmup_events=1)
    registry.check(event(prediction=12.5, score=None), 100)
    assert registry.spec_for("churn", "v3").task == "regression"


def test_warm_up_rejects_names_the_schema_forbids():
    registry = SpecRegistry(warmup_events=5)
    with pytest.raises(InvalidEvent) as caught:
        registry.check(event(features={"bad\nname": 1}), 100)
    assert caught.value.reason is Reason.INVALID_VALUE


def test_the_reject_policy_dead_letters_unregistered_models():
    spec = ModelSpec.from_dict({"model_id": "churn", "features": {"age": {"type": "number"}}})
    registry = SpecRegistry([spec], unknown_models="reject")
    registry.check(event(features={"age": 3}), 100)
    with pytest.raises(InvalidEvent) as caught:
        registry.check(event(model_id="fraud", features={"age": 3}), 100)
    assert caught.value.reason is Reason.UNKNOWN_MODEL


def test_a_versions_own_spec_wins_over_the_models():
    any_version = ModelSpec.from_dict({"model_id": "churn", "features": {"a": {"type": "number"}}})
    v3 = ModelSpec.from_dict(
        {"model_id": "churn", "model_version": "v3", "features": {"a": {"type": "string"}}}
    )
    registry = SpecRegistry([any_version, v3])
    assert registry.spec_for("churn", "v3") is v3
    assert registry.spec_for("churn", "v4") is any_version


def test_models_beyond_the_cap_are_rejected_and_the_cap_holds():
    registry = SpecRegistry(warmup_events=10, max_models=2)
    registry.check(event(model_id="a"), 100)
    registry.check(event(model_id="b"), 100)
    with pytest.raises(InvalidEvent) as caught:
        registry.check(event(model_id="c"), 100)
    assert caught.value.reason is Reason.MODEL_LIMIT
    assert registry.model_count == 2
    assert not registry.knows("c")


@pytest.mark.parametrize(
    "kwargs", [{"unknown_models": "maybe"}, {"warmup_events": 0}, {"max_models": 0}]
)
def test_bad_settings_fail_fast(kwargs):
    with pytest.raises(ValueError):
        SpecRegistry(**kwargs)
