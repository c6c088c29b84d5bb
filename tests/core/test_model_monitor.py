"""Each detector fires on its drift and stays quiet on stationary data, with default settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records

ALERT_SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "alert.json").read_text())
WARMUP = 200
DEFAULTS = MonitorConfig()
DRIFT_AT = WARMUP + DEFAULTS.reference_events + 4_321  # not on a window boundary


def monitor_stream(count: int, *scenarios: Scenario, seed: int = 11, config=DEFAULTS):
    stream = StreamConfig(seed=seed, scenarios=scenarios)
    registry = SpecRegistry(warmup_events=WARMUP)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, config)
    alerts = []
    for chunk in generate_events(stream, count):
        result = ingestor.ingest(raw_records(stream, chunk))
        assert not result.rejected
        alerts.extend(monitor.process(result.accepted, result.positions).alerts)
    return alerts


def feature_alerts(alerts, feature):
    return [a for a in alerts if a.feature == feature]


def test_a_stationary_stream_raises_no_alert():
    assert monitor_stream(40_000) == []


def test_an_abrupt_half_sigma_shift_is_caught_within_2000_events():
    alerts = monitor_stream(
        DRIFT_AT + 3_000, Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=0.5)
    )
    drift = [a for a in alerts if a.type == "data_drift"]
    # PSI or CUSUM, whichever is further over its threshold when the window closes.
    assert [(a.feature, a.status) for a in drift] == [("x7", "firing")]
    assert drift[0].detector in ("psi", "cusum")
    assert 0 < drift[0].trigger.offset - DRIFT_AT <= 2_000
    assert drift[0].window.count == DEFAULTS.window_events
    assert drift[0].value > drift[0].threshold == DEFAULTS.detectors[drift[0].detector].threshold


def test_a_variance_change_is_caught():
    alerts = monitor_stream(
        DRIFT_AT + 3_000, Scenario(kind="variance", feature="x5", start=DRIFT_AT, magnitude=1.5)
    )
    assert [(a.feature, a.type) for a in alerts if a.type == "data_drift"] == [("x5", "data_drift")]


def test_gradual_creep_is_caught_before_it_is_complete():
    scenario = Scenario(
        kind="gradual", feature="x9", start=DRIFT_AT, duration=10_000, magnitude=1.0
    )
    alerts = monitor_stream(DRIFT_AT + 10_000, scenario)
    drift = [a for a in alerts if a.type == "data_drift"]
    assert [a.feature for a in drift] == ["x9"]
    assert drift[0].trigger.offset < DRIFT_AT + 10_000


def test_a_category_mix_change_is_caught():
    alerts = monitor_stream(
        DRIFT_AT + 3_000, Scenario(kind="categorical", feature="c1", start=DRIFT_AT, magnitude=0.5)
    )
    assert [(a.feature, a.detector) for a in alerts if a.type == "data_drift"] == [("c1", "psi")]


def test_a_rising_missing_rate_is_a_data_quality_alert():
    alerts = monitor_stream(
        DRIFT_AT + 3_000, Scenario(kind="missing_rate", feature="x2", start=DRIFT_AT, magnitude=0.3)
    )
    quality = [(a.feature, a.detector) for a in alerts if a.type == "data_quality"]
    assert quality == [("x2", "missing_rate")]


def test_an_episode_fires_once_and_resolves_when_the_drift_ends():
    scenario = Scenario(
        kind="abrupt", feature="x7", start=DRIFT_AT, end=DRIFT_AT + 5_000, magnitude=1.0
    )
    alerts = feature_alerts(monitor_stream(DRIFT_AT + 10_000, scenario), "x7")
    assert [(a.detector, a.status) for a in alerts] == [("psi", "firing"), ("psi", "resolved")]
    firing, resolved = alerts
    assert firing.episode_id == resolved.episode_id and firing.alert_id != resolved.alert_id
    assert resolved.trigger.offset > DRIFT_AT + 5_000


def test_alerts_follow_the_schema_and_carry_a_sample():
    alerts = monitor_stream(
        DRIFT_AT + 2_000, Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0)
    )
    assert alerts
    validator = Draft202012Validator(
        ALERT_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for alert in alerts:
        document = alert.to_dict()
        validator.validate(document)
        assert len(document["sample"]) == DEFAULTS.sample_size
        assert document["sample"][-1]["event_id"] == alert.trigger.event_id


@pytest.mark.parametrize("kwargs", [{"window_events": 1}, {"sample_size": 50}])
def test_bad_config_fails_fast(kwargs):
    with pytest.raises(ValueError):
        MonitorConfig(**kwargs)


def test_an_anomaly_burst_is_one_model_level_alert_and_single_outliers_are_not():
    burst = Scenario(kind="anomaly_burst", start=DRIFT_AT, duration=200, magnitude=8.0)
    alerts = [a for a in monitor_stream(DRIFT_AT + 4_000, burst) if a.type == "anomaly"]
    assert [(a.feature, a.detector, a.status) for a in alerts][:1] == [
        (None, "mahalanobis", "firing")
    ]
    assert alerts[0].value > 0.1
    assert 0 < alerts[0].trigger.offset - DRIFT_AT <= 2_000
    assert len([a for a in alerts if a.status == "firing"]) == 1


def test_the_label_free_estimate_matches_what_the_labels_then_show():
    import numpy as np
    import orjson

    from streams.simulation import keyed_labels

    stream = StreamConfig(seed=12)
    registry = SpecRegistry(warmup_events=WARMUP)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, DEFAULTS)
    chunks = list(generate_events(stream, 10_000))
    for chunk in chunks:
        result = ingestor.ingest(raw_records(stream, chunk))
        monitor.process(result.accepted, result.positions)
    (watched,) = monitor.monitors.values()
    estimate = watched.label_free.estimate()
    # The window the estimate covers: the last window_events predictions, with their labels.
    last = chunks[-1]
    n = DEFAULTS.window_events
    labels = np.array([orjson.loads(v)["label"] for _, v in keyed_labels(stream, last)][-n:])
    predicted = last.prediction[-n:] == 1
    realised_precision = labels[predicted].mean()
    realised_recall = predicted[labels == 1].mean()
    assert estimate["count"] == n
    assert estimate["precision"] == pytest.approx(realised_precision, abs=0.05)
    assert estimate["recall"] == pytest.approx(realised_recall, abs=0.05)
