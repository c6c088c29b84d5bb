"""The load test waits for a baseline's report with a deadline, not forever."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from loadtest.run import _report_line


@pytest.fixture
def children():
    """Start ``python -c SCRIPT`` with its stdout piped; every child is killed after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(script: str) -> subprocess.Popen[bytes]:
        started.append(subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE))
        return started[-1]

    yield start
    for child in started:
        child.kill()
        child.wait()


def test_the_report_is_found_after_the_banner(children):
    child = children("print('faust banner'); print('{\"events\": 5, \"seconds\": 0.5}')")
    assert _report_line(child.stdout, timeout_s=30) == b'{"events": 5, "seconds": 0.5}\n'


def test_a_stalled_baseline_ends_the_wait_at_the_deadline(children):
    child = children("import time; print('faust banner', flush=True); time.sleep(60)")
    began = time.monotonic()
    assert _report_line(child.stdout, timeout_s=0.5) is None
    assert 0.5 <= time.monotonic() - began < 10


def test_a_baseline_that_exits_without_a_report_ends_the_wait_at_once(children):
    child = children("print('faust banner')")
    began = time.monotonic()
    assert _report_line(child.stdout, timeout_s=60) is None
    assert time.monotonic() - began < 30


def test_a_report_that_ends_a_line_of_the_banner_is_found(children):
    # Python's buffer let part of Faust's banner out with no line end (PYTHONUNBUFFERED unset);
    # the report, written to the descriptor itself, ended that line: the runner waited forever.
    child = children(
        "import os, sys; sys.stdout.write('banner, cut'); sys.stdout.flush(); "
        'os.write(1, b\'{"events": 5, "seconds": 0.5}\\n\')'
    )
    assert _report_line(child.stdout, timeout_s=30) == b'{"events": 5, "seconds": 0.5}\n'
