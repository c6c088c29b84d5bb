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
    "kwargs",
    [
        {"unknown_models": "maybe"},
        {"warmup_events": 0},
        {"max_models": 0},
        {"warmup_timeout_s": 0},
        {"max_versions_per_model": 0},
        {"version_idle_s": -1},
    ],
)
def test_bad_settings_fail_fast(kwargs):
    with pytest.raises(ValueError):
        SpecRegistry(**kwargs)


def test_a_warm_up_that_does_not_complete_in_time_frees_its_slot():
    registry = SpecRegistry(warmup_events=10, max_models=1, warmup_timeout_s=600)
    registry.advance(1000.0)
    registry.check(event(model_id="a"), 100)
    registry.advance(1599.0)
    with pytest.raises(InvalidEvent) as caught:
        registry.check(event(model_id="b"), 100)
    assert caught.value.reason is Reason.MODEL_LIMIT
    assert registry.advance(1600.0) == ["a"]
    assert not registry.knows("a") and registry.model_count == 0
    registry.check(event(model_id="b"), 100)
    assert registry.knows("b")


def test_a_real_model_gets_in_once_a_flood_of_one_event_models_has_expired():
    registry = SpecRegistry(warmup_events=5, max_models=100, warmup_timeout_s=600)
    registry.advance(0.0)
    rejected = 0
    for n in range(5000):
        try:
            registry.check(event(model_id=f"flood-{n}"), 100)
        except InvalidEvent as exc:
            assert exc.reason is Reason.MODEL_LIMIT
            rejected += 1
    assert rejected == 4900 and registry.model_count == 100
    with pytest.raises(InvalidEvent):
        registry.check(event(model_id="real"), 100)

    assert len(registry.advance(600.0)) == 100
    for _ in range(5):
        registry.check(event(model_id="real"), 100)
    assert registry.spec_for("real", "v3") is not None
    assert registry.model_count == 1


def test_warm_up_slots_held_by_other_workers_count_toward_the_cap():
    registry = SpecRegistry(warmup_events=10, max_models=3, warmup_timeout_s=600)
    registry.advance(100.0)
    registry.share({"elsewhere-1": 50.0, "elsewhere-2": 60.0})
    registry.check(event(model_id="here"), 100)
    assert registry.model_count == 3
    with pytest.raises(InvalidEvent):
        registry.check(event(model_id="one-too-many"), 100)
    assert registry.take_slot_changes() == ({"here": 100.0}, [])
    # The other workers' slots expire on their own start time.
    registry.advance(650.0)
    assert registry.model_count == 2
    registry.check(event(model_id="now-there-is-room"), 100)


def test_a_model_another_worker_is_warming_keeps_its_start_and_takes_no_new_slot():
    registry = SpecRegistry(warmup_events=10, max_models=1, warmup_timeout_s=600)
    registry.advance(100.0)
    registry.share({"shared": 40.0})
    registry.check(event(model_id="shared"), 100)
    assert registry.take_slot_changes() == ({"shared": 40.0}, [])
    assert registry.advance(640.0) == ["shared"]
    assert registry.take_slot_changes() == ({}, ["shared"])


def test_a_refused_warm_up_is_dropped_and_gives_back_nothing():
    registry = SpecRegistry(warmup_events=10, max_models=5)
    registry.check(event(model_id="late"), 100)
    registry.take_slot_changes()
    registry.refuse(["late"])
    assert not registry.knows("late")
    assert registry.take_slot_changes() == ({}, [])


def test_a_completed_warm_up_gives_its_slot_back_and_counts_as_registered():
    registry = SpecRegistry(warmup_events=2, max_models=5)
    registry.check(event(model_id="m"), 100)
    registry.check(event(model_id="m"), 100)
    assert registry.take_slot_changes() == ({}, ["m"])
    assert registry.model_count == 1 and registry.warmup_room == 4


def test_versions_beyond_the_cap_are_rejected_while_all_are_live():
    spec = ModelSpec.from_dict({"model_id": "churn", "features": {"age": {"type": "number"}}})
    registry = SpecRegistry([spec], max_versions_per_model=3, version_idle_s=300)
    registry.advance(0.0)
    for n in range(3):
        registry.check(event(model_version=f"v{n}", features={"age": 3}), 100)
    with pytest.raises(InvalidEvent) as caught:
        registry.check(event(model_version="v9", features={"age": 3}), 100)
    assert caught.value.reason is Reason.VERSION_LIMIT
    assert caught.value.field == "model_version"
    assert registry.take_retired() == []


def test_a_new_version_retires_the_least_recently_seen_idle_one():
    spec = ModelSpec.from_dict({"model_id": "churn", "features": {"age": {"type": "number"}}})
    registry = SpecRegistry([spec], max_versions_per_model=3, version_idle_s=300)
    for now, version in [(0.0, "v0"), (10.0, "v1"), (20.0, "v2"), (30.0, "v0")]:
        registry.advance(now)
        registry.check(event(model_version=version, features={"age": 3}), 100)
    registry.advance(400.0)
    registry.check(event(model_version="v3", features={"age": 3}), 100)
    # v1 was seen least recently (v0 came back at 30 s).
    assert registry.take_retired() == [("churn", "v1")]
    assert registry.versions.watched("churn") == ["v2", "v0", "v3"]
    registry.check(event(model_version="v3", features={"age": 3}), 100)
    assert registry.take_retired() == []


def test_an_expired_warm_up_forgets_its_versions():
    registry = SpecRegistry(warmup_events=10, warmup_timeout_s=60)
    registry.check(event(model_id="brief", model_version="x"), 100)
    assert registry.versions.watched("brief") == ["x"]
    registry.advance(60.0)
    assert registry.versions.watched("brief") == []
