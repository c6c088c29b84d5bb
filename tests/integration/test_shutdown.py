"""A worker stuck on an outage still stops promptly on SIGTERM, and loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from streams.adapters.faust.batch_app import DRAIN_S
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    redis_hung,
    wait_until_processed,
)

pytestmark = pytest.mark.integration


def test_sigterm_during_a_redis_outage_stops_within_10s_and_nothing_is_lost(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust")
    settings = Settings.from_env(env)
    stream = StreamConfig(model_id="it-shutdown", seed=5)
    first = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "first.log")
    first.start()
    try:
        publish_stream(settings, stream, 1_000)
        wait_until_processed(first, 1_000)
        with redis_hung(stack_config):
            publish_stream(settings, stream, 500, offset=1_000)
            time.sleep(2 * DRAIN_S / 5)  # the batch is now retrying its Redis writes
            started = time.monotonic()
            assert first.stop(timeout_s=30) == 0
            assert time.monotonic() - started < 10
    finally:
        first.kill()

    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    second.start()
    try:
        wait_until_processed(second, 500)
        time.sleep(1)  # anything applied twice would show up by now
        assert second.metric_total("driftline_events_processed_total") == 500
    finally:
        assert second.stop() == 0


LEAVE_ONE_RUNNING = """
import os
import sys
from pathlib import Path
from streams.stack.worker import WorkerProcess, free_port, kill_leftovers
env, logs = dict(os.environ), Path(sys.argv[1])
stopped = WorkerProcess(env, web_port=free_port(), log_path=logs / "stopped.log")
left = WorkerProcess(env, web_port=free_port(), log_path=logs / "left.log")
stopped.start()
left.start()
print(stopped.pid, left.pid)
stopped.stop()
print(*kill_leftovers())
"""


def test_a_worker_nobody_stopped_is_killed_by_kill_leftovers(stack_config, tmp_path):
    """What the test session's last fixture does (tests/conftest.py)."""
    env = isolated_env(stack_config, tmp_path / "faust")
    done = subprocess.run([sys.executable, "-c", LEAVE_ONE_RUNNING, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    started, killed = done.stdout.splitlines()
    left = int(started.split()[1])
    assert killed.split() == [str(left)]  # not the one stopped
    with pytest.raises(ProcessLookupError):
        os.kill(left, 0)
