"""The worker acks whole fetched chunks (streams/adapters/faust/batch_consumer.py): those acks must
become the consumer group's committed offsets, so a restarted worker starts where the last
one stopped instead of relying on Redis to skip what it re-reads."""

from __future__ import annotations

import pytest

from streams.adapters.kafka.records import end_offsets
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    committed,
    free_port,
    isolated_env,
    publish_stream,
    wait_until_processed,
)

pytestmark = pytest.mark.integration


def test_a_stopped_worker_has_committed_every_chunk_it_applied(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust")
    settings = Settings.from_env(env)
    streams = [StreamConfig(model_id=f"it-commit-{n}", seed=n) for n in range(3)]
    first = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "first.log")
    first.start()
    for stream in streams:
        publish_stream(settings, stream, 1_500)
    wait_until_processed(first, 4_500)
    assert first.stop() == 0

    ends = end_offsets(settings.kafka, settings.topic_predictions)
    assert committed(settings) == ends

    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    second.start()
    try:
        publish_stream(settings, streams[0], 500, offset=1_500)
        wait_until_processed(second, 500)
        assert second.metric_total("driftline_replayed_records_skipped_total") == 0
    finally:
        assert second.stop() == 0
