"""A crashed worker restarted under its group instance id gets its partitions back at once,
not after the session timeout (static group membership)."""

from __future__ import annotations

import time

import pytest

from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

SESSION_TIMEOUT_S = 30


def test_a_restarted_static_member_resumes_well_before_the_session_timeout(stack_config, tmp_path):
    env = {
        **isolated_env(stack_config, tmp_path / "faust"),
        "DRIFTLINE_GROUP_INSTANCE_ID": "it-handover-0",
        "DRIFTLINE_SESSION_TIMEOUT_S": str(SESSION_TIMEOUT_S),
    }
    settings = Settings.from_env(env)
    stream = StreamConfig(model_id="it-handover", seed=9)
    # The same address, as a pod restarted in place has: Faust's assignor checks that the
    # member it hands back partitions to announces the URL it had.
    web_port = free_port()
    first = WorkerProcess(env, web_port=web_port, log_path=tmp_path / "first.log")
    first.start()
    first.wait_for_partitions()
    publish_stream(settings, stream, 300)
    wait_until_processed(first, 300)
    first.kill()

    second = WorkerProcess(env, web_port=web_port, log_path=tmp_path / "second.log")
    started = time.monotonic()
    second.start()
    try:
        assert sorted(second.wait_for_partitions()) == list(range(settings.partitions))
        assert time.monotonic() - started < SESSION_TIMEOUT_S / 2
        publish_stream(settings, stream, 200, offset=300)
        wait_until_processed(second, 200)
    finally:
        assert second.stop() == 0
