"""``driftline replay`` starts from the worker's settings: DRIFTLINE_* apply, flags win."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from streams.simulation import Scenario, StreamConfig, write_jsonl


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay-settings") / "events.jsonl"
    drift = Scenario(kind="abrupt", feature="x7", start=6_000, magnitude=1.0)
    write_jsonl(path, StreamConfig(seed=3, scenarios=(drift,)), 8_000)
    return path


def replay(events, *flags: str, **variables: str) -> subprocess.CompletedProcess:
    # Only the variables of the test: a DRIFTLINE_* of the caller's shell must not leak in.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "replay", str(events), *flags],
        env={**environ, **{f"DRIFTLINE_{k.upper()}": v for k, v in variables.items()}},
        capture_output=True,
    )


def window_counts(done: subprocess.CompletedProcess) -> set[int]:
    assert done.returncode == 0, done.stderr
    alerts = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert alerts, "the drift raised no alert"
    return {alert["window"]["count"] for alert in alerts}


def test_the_window_comes_from_the_environment_and_the_flag_wins(events):
    assert window_counts(replay(events)) == {1000}
    assert window_counts(replay(events, window_events="500", reference_events="2000")) == {500}
    both = replay(events, "--window", "800", window_events="500", reference_events="2000")
    assert window_counts(both) == {800}


def test_the_unknown_model_policy_comes_from_the_environment(events):
    done = replay(events, unknown_models="reject")
    assert done.returncode == 0 and done.stdout == b""
    assert b"8000 rejected (unknown_model 8000)" in done.stderr
    assert b"8000 accepted" in replay(events, "--unknown-models", "auto",
                                      unknown_models="reject").stderr  # fmt: skip


def test_a_bad_variable_stops_replay_naming_it(events):
    done = replay(events, window_events="many")
    assert done.returncode == 2
    assert b"DRIFTLINE_WINDOW_EVENTS='many': expected an integer" in done.stderr
