"""``driftline replay``: the same core over a file, deterministic, rejects to a DLQ file."""

from __future__ import annotations

import orjson

from streams.simulation import Scenario, StreamConfig, write_jsonl

DRIFT_AT = 7_000


def test_replay_reports_the_drift_and_dead_letters_bad_lines(tmp_path, run_replay):
    replay = run_replay
    events = tmp_path / "events.jsonl"
    config = StreamConfig(
        seed=3, scenarios=(Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0),)
    )
    write_jsonl(events, config, 10_000)
    with events.open("ab") as out:
        out.write(b"not json\n")
        out.write(b'{"event_id": "x"}\n')

    done = replay(events, "--dlq", str(tmp_path / "dlq.jsonl"))
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    drift = [a for a in alerts if a["type"] == "data_drift"]
    assert [(a["feature"], a["status"]) for a in drift] == [("x7", "firing")]
    assert 0 < drift[0]["trigger"]["offset"] - DRIFT_AT <= 2_000
    assert drift[0]["trigger"]["event_id"] == f"{config.model_id}-{drift[0]['trigger']['offset']}"

    dead = [orjson.loads(line) for line in (tmp_path / "dlq.jsonl").read_bytes().splitlines()]
    assert [(d["line"], d["reason"]) for d in dead] == [
        (10_000, "not_json"),
        (10_001, "missing_field"),
    ]
    assert b"replayed 10002 lines: 10000 accepted, 2 rejected" in done.stderr

    again = replay(events, "--dlq", str(tmp_path / "dlq2.jsonl"))
    assert again.stdout == done.stdout


def test_replay_with_labels_backtests_performance(tmp_path, run_replay, monkeypatch):
    replay = run_replay
    # 1,500 healthy labels: a reference of 1,000 of them (the default, 10,000, is larger).
    monkeypatch.setenv("DRIFTLINE_PERFORMANCE_REFERENCE_LABELS", "1000")
    from streams.simulation import generate_events, keyed_labels

    config = StreamConfig(model_id="backtest", seed=5)
    events, labels = tmp_path / "events.jsonl", tmp_path / "labels.jsonl"
    write_jsonl(events, config, 3_000)
    healthy = [
        value
        for chunk in generate_events(config, 1_500)
        for _, value in keyed_labels(config, chunk)
    ]
    degraded = [
        value
        for chunk in generate_events(config, 1_500, offset=1_500)
        for _, value in keyed_labels(config, chunk, flip_rate=0.4)
    ]
    labels.write_bytes(b"\n".join(healthy + degraded + healthy[:3] + [b"[]"]) + b"\n")
    stranger = orjson.dumps({"event_id": "nobody", "model_id": "backtest", "label": 1})
    with labels.open("ab") as out:
        out.write(stranger + b"\n")

    args = ("--labels", str(labels), "--retrain", str(tmp_path / "retrain.jsonl"))
    done = replay(events, *args)
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    performance = [a for a in alerts if a["type"] == "performance" and a["status"] == "firing"]
    assert "accuracy_drop_lower_bound" in {a["statistic"]["name"] for a in performance}
    assert all(1_500 <= a["trigger"]["offset"] < 3_000 for a in performance)
    requests = (tmp_path / "retrain.jsonl").read_bytes().splitlines()
    assert len(requests) == 1 and orjson.loads(requests[0])["model_id"] == "backtest"
    assert b"labels: duplicate 3, joined 3000, rejected 1, unknown 1" in done.stderr
    assert replay(events, *args).stdout == done.stdout
