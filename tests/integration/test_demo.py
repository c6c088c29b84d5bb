"""The README's main command, run end to end on its own topics."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import redis

from streams.adapters.kafka.admin import connect_admin
from streams.demo import DRIFTING_FEATURE, EVENTS_PER_MODEL, MODELS
from streams.samples import BAD_RECORDS
from streams.settings import Settings
from streams.stack.worker import run_names
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def test_the_demo_catches_the_drift_and_dead_letters_bad_records(worker_env, stack_config):
    # Only the servers and a free web port: the demo names its own topics, group and prefix,
    # as it does after `make demo`, and must remove them again.
    own = run_names("any")
    env = {k: v for k, v in worker_env.items() if k not in own}
    env["DRIFTLINE_WEB_PORT"] = str(free_port())
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for model in MODELS:
        assert [model, str(EVENTS_PER_MODEL)] in [line.split() for line in lines]
    assert f"{len(BAD_RECORDS)} dead letters" in done.stdout
    firing = [line for line in lines if line.strip().startswith("FIRING")]
    assert [line.split()[-3:] for line in firing if "data_drift" in line] == [
        ["v1", "feature", DRIFTING_FEATURE]
    ]
    assert all(MODELS[0] in line for line in firing), "the stationary model raised an alert"
    assert "HTTP 200" in done.stdout
    _assert_tidy(done, Settings.from_env(env))


def _assert_tidy(done: subprocess.CompletedProcess, settings: Settings) -> None:
    """Nothing but the demo's own story, and nothing of the run left behind."""
    assert done.stderr == ""
    assert not [line for line in done.stdout.splitlines() if " INFO " in line or "GETPID" in line]
    assert done.stdout.splitlines()[-1] == (
        f"Kafka and Redis are still running: `{sys.executable} -m streams.cli stack down` "
        "stops them."
    )
    (run,) = re.findall(r"topics predictions-(demo-\d{8}-\d{6})", done.stdout)
    topics = connect_admin(settings.kafka).list_topics(timeout=10).topics
    assert [topic for topic in topics if run in topic] == []
    keys = redis.Redis.from_url(settings.redis_url).keys(f"driftline-{run}:*")
    assert keys == []
