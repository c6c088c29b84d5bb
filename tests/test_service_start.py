"""How long ``service.start`` waits for a server to answer: while its log grows, longer.

Real processes (a Python script standing in for a server's start-up), no servers.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from streams.stack import process, service
from streams.stack.errors import StackError

# Writes a line every 0.1 s for LINES_FOR seconds (forever if negative), then answers if told.
SERVER = textwrap.dedent("""
    import pathlib, sys, time
    ready, lines_for, answers = pathlib.Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    start = time.monotonic()
    while lines_for < 0 or time.monotonic() - start < lines_for:
        print("loading a partition", flush=True)
        time.sleep(0.1)
    if answers == "answers":
        ready.touch()
    time.sleep(600)
""")


def server(
    tmp_path: Path, *, lines_for: float, start_timeout: float, answers: bool = True
) -> service.Service:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    ready = tmp_path / "ready"
    argv = [
        sys.executable,
        str(script),
        str(ready),
        str(lines_for),
        "answers" if answers else "silent",
    ]
    return service.Service(
        name="slow",
        host="127.0.0.1",
        port=1,
        pid_file=tmp_path / "slow.pid",
        log_file=tmp_path / "slow.log",
        marker=str(script),
        answers=lambda _timeout: ready.exists(),
        prepare=lambda _log: argv,
        start_timeout=start_timeout,
    )


@pytest.fixture
def started(tmp_path):
    """The pid file each test's server writes; whatever it names is killed afterwards."""
    pid_file = tmp_path / "slow.pid"
    yield pid_file
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if process.is_alive(pid):
            process.stop(pid)


def test_a_server_whose_log_grows_is_waited_for_past_its_start_timeout(tmp_path, started):
    said: list[str] = []
    slow = server(tmp_path, lines_for=2.5, start_timeout=1.0)
    status = service.start(slow, log=said.append)
    assert status.running and status.managed
    assert any("not answering after 1 s, but its log grows: waiting" in line for line in said)


def test_a_server_silent_for_its_start_timeout_is_stopped_and_reported(tmp_path, started):
    silent = server(tmp_path, lines_for=0, start_timeout=1.0, answers=False)
    began = time.monotonic()
    with pytest.raises(StackError, match=r"slow: did not answer on 127\.0\.0\.1:1 within 1 s"):
        service.start(silent, log=lambda _line: None)
    assert time.monotonic() - began < 5
    assert not started.exists()


def test_a_server_that_only_ever_logs_is_given_up_on_at_ten_start_timeouts(tmp_path, started):
    chatty = server(tmp_path, lines_for=-1, start_timeout=0.3, answers=False)
    began = time.monotonic()
    with pytest.raises(StackError, match=r"within 3 s \(its log last grew 0 s before\)"):
        service.start(chatty, log=lambda _line: None)
    assert 3 <= time.monotonic() - began < 8
    assert not started.exists()
