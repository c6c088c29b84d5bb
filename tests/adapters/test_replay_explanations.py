"""Replay: anomaly alerts name the features behind them, drift alerts the inputs that
drifted, and an event published twice is replayed once."""

from __future__ import annotations

import orjson

from streams.simulation import Scenario, StreamConfig, write_jsonl

SHIFT_AT = 7_000


def test_an_anomaly_alert_names_the_shifted_feature_first(tmp_path, run_replay):
    events = tmp_path / "events.jsonl"
    shifted = Scenario(kind="abrupt", feature="x7", start=SHIFT_AT, magnitude=6.0)
    write_jsonl(events, StreamConfig(seed=3, scenarios=(shifted,)), 10_000)
    alerts = [orjson.loads(line) for line in run_replay(events).stdout.splitlines()]

    anomaly = [a for a in alerts if a["type"] == "anomaly" and a["status"] == "firing"]
    assert anomaly, "a 6 sigma shift must make events anomalous"
    explanation = anomaly[0]["explanation"]
    assert explanation["method"] == "mahalanobis_share"
    names = [f["name"] for f in explanation["features"]]
    shares = [f["contribution"] for f in explanation["features"]]
    assert names[0] == "x7" and shares[0] > 0.5
    assert len(names) == 5 and shares == sorted(shares, reverse=True) and sum(shares) <= 1
    # Only alerts that have something to explain carry an explanation.
    assert all("explanation" not in a for a in alerts if a["type"] == "data_drift")
    for alert in alerts:
        if alert["type"] == "prediction_drift" and "explanation" in alert:
            assert alert["explanation"]["method"] == "drift_ratio"
            assert all(f["contribution"] > 1 for f in alert["explanation"]["features"])


def test_a_retried_event_is_replayed_once(tmp_path, run_replay):
    clean, retried = tmp_path / "clean.jsonl", tmp_path / "retried.jsonl"
    write_jsonl(clean, StreamConfig(seed=5), 6_000)
    lines = clean.read_bytes().splitlines(keepends=True)
    # 300 events sent again a little later (a producer retry after a lost ack).
    retried.write_bytes(b"".join(lines[:3_000] + lines[2_700:3_000] + lines[3_000:]))

    once, twice = run_replay(clean), run_replay(retried)
    assert b"300 duplicate events skipped" in twice.stderr
    assert b"6300 lines: 6000 accepted" in twice.stderr

    def without_positions(stdout: bytes) -> list[dict]:
        # Line numbers after the copies moved by 300; everything else is the same.
        alerts = [orjson.loads(line) for line in stdout.splitlines()]
        return [{k: v for k, v in a.items() if k not in ("trigger", "alert_id", "sample")}
                for a in alerts]  # fmt: skip

    assert without_positions(twice.stdout) == without_positions(once.stdout)


def test_a_never_seen_category_is_its_own_data_quality_alert(tmp_path, run_replay):
    events = tmp_path / "events.jsonl"
    new = Scenario(kind="categorical", feature="c0", start=SHIFT_AT, magnitude=0.5)
    write_jsonl(events, StreamConfig(seed=3, scenarios=(new,)), 10_000)
    alerts = [orjson.loads(line) for line in run_replay(events).stdout.splitlines()]
    unseen = [a for a in alerts if a["detector"] == "unseen_categories"]
    assert [(a["type"], a["feature"], a["status"]) for a in unseen] == [
        ("data_quality", "c0", "firing")
    ]
    assert 0 < unseen[0]["trigger"]["offset"] - SHIFT_AT <= 2_000
