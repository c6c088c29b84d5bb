"""`driftline simulate --kafka` creates the topics it needs and publishes every event."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from streams.adapters.kafka.records import end_offsets, read_from
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_simulate_publishes_to_a_topic_nobody_created_yet(worker_env):
    env = worker_env | {
        "DRIFTLINE_TOPIC_PREDICTIONS": worker_env["DRIFTLINE_TOPIC_PREDICTIONS"] + "-sim"
    }
    settings = Settings.from_env(env)
    subprocess.run(
        [sys.executable, "-m", "streams.cli", "simulate", "--kafka", "--events", "2500",
         "--model-id", "sim-kafka", "--scenario", "kind=variance,feature=x2,start=10,magnitude=2"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    offsets = end_offsets(settings.kafka, settings.topic_predictions)
    assert sum(offsets.values()) == 2500
    (partition,) = [p for p, end in offsets.items() if end]  # keyed by model: one partition
    first = read_from(settings.kafka, settings.topic_predictions, {partition: 0}, count=1)
    assert first[0].key == b"sim-kafka"
    assert orjson.loads(first[0].value)["event_id"] == "sim-kafka-0"
