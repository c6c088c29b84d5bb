"""``replay --format``: JSON lines into a pipe (the byte-for-byte replay format), a table on a
terminal, either when asked."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import orjson
import pytest

from streams.simulation import Scenario, StreamConfig, write_jsonl

ENVIRON = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay-format") / "events.jsonl"
    drift = Scenario(kind="abrupt", feature="x7", start=6_000, magnitude=1.0)
    write_jsonl(path, StreamConfig(seed=3, scenarios=(drift,)), 8_000)
    return path


def replay(events, *flags: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "streams.cli", "replay", str(events), *flags]
    return subprocess.run(command, env=ENVIRON, capture_output=True, check=True)


def test_into_a_pipe_alerts_are_json_lines(events):
    alerts = [orjson.loads(line) for line in replay(events).stdout.splitlines()]
    assert alerts and {"alert_id", "sample", "window"} <= set(alerts[0])
    assert replay(events, "--format", "jsonl").stdout == replay(events).stdout


def test_a_table_when_asked_one_row_per_alert_under_one_heading(events):
    alerts = [orjson.loads(line) for line in replay(events).stdout.splitlines()]
    rows = replay(events, "--format", "table").stdout.decode().splitlines()
    assert rows[0].split()[:3] == ["STATUS", "SEVERITY", "TYPE"]
    assert len(rows) == 1 + len(alerts)
    for row, alert in zip(rows[1:], alerts, strict=True):
        cells = row.split()
        assert cells[:3] == [alert["status"], alert["severity"], alert["type"]]
        assert str(alert["trigger"]["offset"]) in cells and len(row) < 160


def test_on_a_terminal_the_default_is_the_table(events):
    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "streams.cli", "replay", str(events)]
    # Read while it runs: a terminal's buffer is small, and a full one would block the writer.
    with subprocess.Popen(command, env=ENVIRON, stdout=follower, stderr=subprocess.DEVNULL):
        os.close(follower)
        text = b""
        while chunk := _read(leader):
            text += chunk
    os.close(leader)
    assert text.startswith(b"STATUS") and b"data_drift" in text and b"{" not in text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other end is closed: all read
        return b""


def test_a_reader_that_stops_early_gets_no_traceback(events):
    command = [sys.executable, "-m", "streams.cli", "replay", str(events), "--window", "100"]
    with subprocess.Popen(command, env=ENVIRON, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          bufsize=0) as replaying:  # fmt: skip
        assert replaying.stdout is not None and replaying.stderr is not None
        first = replaying.stdout.readline()  # `| head -1`
        replaying.stdout.close()
        err = replaying.stderr.read()
    assert orjson.loads(first)["alert_id"]
    assert replaying.returncode == 141 and b"Traceback" not in err, err
