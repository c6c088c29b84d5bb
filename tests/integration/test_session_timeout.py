"""A session timeout the brokers refuse stops the worker at start with one clear line.

Before, the broker refused the worker's join (INVALID_SESSION_TIMEOUT), aiokafka logged it
once, and the worker stayed up in no group, consuming nothing. The stack's broker accepts
1-1,800 s (``group.min.session.timeout.ms``, ``group.max.session.timeout.ms``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from streams.stack.worker import free_port
from tests.integration.conftest import isolated_env

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("seconds", ["0.5", "4000"])
def test_a_session_timeout_outside_the_brokers_bounds_stops_the_worker(
    stack_config, tmp_path, seconds
):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_SESSION_TIMEOUT_S": seconds,
        "DRIFTLINE_WEB_PORT": str(free_port()),
    }
    done = subprocess.run([sys.executable, "-m", "streams.cli", "worker"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"driftline: DRIFTLINE_SESSION_TIMEOUT_S={seconds} is outside what the Kafka brokers "
        "accept, 1-1800 s (group.min.session.timeout.ms, group.max.session.timeout.ms): the "
        "worker would never join its group"
    )
