"""The README's main command, run end to end on its own topics."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streams.demo import DRIFTING_FEATURE, EVENTS_PER_MODEL, MODELS
from streams.samples import BAD_RECORDS
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def test_the_demo_catches_the_drift_and_dead_letters_bad_records(worker_env, stack_config):
    env = {
        **worker_env,
        "DRIFTLINE_APP_ID": worker_env["DRIFTLINE_APP_ID"] + "-demo",
        "DRIFTLINE_TOPIC_PREDICTIONS": worker_env["DRIFTLINE_TOPIC_PREDICTIONS"] + "-demo",
        "DRIFTLINE_TOPIC_DLQ": worker_env["DRIFTLINE_TOPIC_DLQ"] + "-demo",
        "DRIFTLINE_TOPIC_ALERTS": worker_env["DRIFTLINE_TOPIC_ALERTS"] + "-demo",
        "DRIFTLINE_WEB_PORT": str(free_port()),
    }
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
