"""A backlog is taken in batches of several fetches: a worker started behind 12,000 events,
fetching at most 250 records at a time, joins the fetches waiting for it into larger
batches (never over DRIFTLINE_BATCH_MAX_RECORDS), and every event is processed once."""

from __future__ import annotations

import pytest

from streams.adapters.kafka.admin import ensure_topics
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess, free_port
from tests.integration.conftest import isolated_env, publish_stream, wait_until_processed

pytestmark = pytest.mark.integration

EVENTS, FETCH, MOST = 12_000, 250, 1_000


def test_waiting_fetches_are_joined_into_batches_up_to_the_cap(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_BATCH_SIZE": str(FETCH),
        "DRIFTLINE_BATCH_MAX_RECORDS": str(MOST),
    }
    settings = Settings.from_env(env)
    ensure_topics(settings.kafka, [settings.topic_predictions], partitions=settings.partitions)
    publish_stream(settings, StreamConfig(model_id="it-backlog", seed=4), EVENTS)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        wait_until_processed(worker, EVENTS, timeout_s=120)
        sizes = {
            float(dict(labels)["le"]): count
            for (name, labels), count in worker.metrics().items()
            if name == "driftline_batch_size_bucket"
        }
        processed = worker.metric_total("driftline_events_processed_total")
        skipped = worker.metric_total("driftline_replayed_records_skipped_total")
    finally:
        assert worker.stop() == 0
    batches = sizes[float("inf")]
    assert sizes[250.0] < batches, "some batch holds more than one fetch"
    assert sizes[1000.0] == batches, "no batch over DRIFTLINE_BATCH_MAX_RECORDS"
    assert (processed, skipped) == (EVENTS, 0)
