from __future__ import annotations

import pytest

from streams.core.alerts.alert_rule import AlertRule, RuleState


def run(values, threshold=1.0, rule=None):
    rule, state = rule or AlertRule(), RuleState()
    return [state.judge(rule, i, v, threshold) for i, v in enumerate(values)]


def test_one_alert_per_episode_and_a_resolution_after_calm_windows():
    verdicts = run([0.2, 1.5, 3.0, 1.2, 0.4, 0.3, 0.2])
    assert verdicts == [None, "fire", None, None, None, "resolve", None]


def test_hovering_near_the_threshold_does_not_flap():
    verdicts = run([1.1, 0.9, 1.1, 0.9, 1.1, 0.9])
    assert verdicts.count("fire") == 1
    assert "resolve" not in verdicts


def test_cooldown_holds_back_a_refire():
    rule = AlertRule(resolve_windows=1, cooldown_windows=2)
    verdicts = run([2, 0.1, 2, 2, 2], rule=rule)
    assert verdicts == ["fire", "resolve", None, None, "fire"]


def test_state_survives_a_snapshot():
    rule, state = AlertRule(), RuleState()
    state.judge(rule, 0, 2.0, 1.0)
    restored = RuleState.restore(state.snapshot())
    assert restored.judge(rule, 1, 0.1, 1.0) is None
    assert restored.judge(rule, 2, 0.1, 1.0) == "resolve"


@pytest.mark.parametrize("kwargs", [{"resolve_ratio": 0}, {"resolve_windows": 0}])
def test_bad_rules_fail_fast(kwargs):
    with pytest.raises(ValueError):
        AlertRule(**kwargs)
