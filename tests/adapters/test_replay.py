"""``driftline replay``: the same core over a file, deterministic, rejects to a DLQ file."""

from __future__ import annotations

import subprocess
import sys

import orjson

from streams.simulation import Scenario, StreamConfig, write_jsonl

DRIFT_AT = 7_000


def replay(path, *args):
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(path), *args],
        capture_output=True,
        check=True,
    )


def test_replay_reports_the_drift_and_dead_letters_bad_lines(tmp_path):
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
