"""Labels under a worker killed mid-stream, on the real broker and Redis: nothing committed,
so the next worker reads every prediction and label again; each label counts once in the
stored performance state, whatever batch the kill cut (joined in Redis but not yet saved,
or saved)."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.adapters.kafka.records import publish
from streams.adapters.redis.client import connect
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.settings import Settings
from streams.simulation import StreamConfig, generate_events, keyed_labels
from streams.stack.worker import WorkerProcess, free_port
from tests.integration.conftest import isolated_env, publish_stream, wait_for_labels
from tests.integration.conftest import wait_until_processed as wait_for_predictions

pytestmark = pytest.mark.integration

EVENTS = 3_000
STREAM = StreamConfig(model_id="it-labels-killed", seed=37)


def labels(count: int) -> list[tuple[bytes, bytes]]:
    return [r for chunk in generate_events(STREAM, count) for r in keyed_labels(STREAM, chunk)]


def stored_labels_seen(settings: Settings) -> int:
    """The labels the stored performance state of the model version has counted."""

    async def read() -> int:
        client = connect(settings.redis_url, socket_timeout=5)
        store = RedisMonitorStore(
            client,
            prefix=settings.redis_prefix,
            topic=settings.labels_by_model,
            namespace="performance",
        )
        try:  # fmt: skip
            raw = await store.fetch(STREAM.model_id, STREAM.model_version, tidy=False)
        finally:
            await client.aclose()
        assert raw is not None, "no performance state stored"
        return int(raw.parse().snapshot["counts"][0])

    return asyncio.run(read())


def test_labels_read_again_after_a_kill_count_once(stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_COMMIT_INTERVAL_S": "3600",  # nothing committed before the kill
        "DRIFTLINE_PERFORMANCE_REFERENCE_LABELS": "500",
        "DRIFTLINE_LABEL_RETRY_S": "0.5",
    }  # fmt: skip
    settings = Settings.from_env(env)
    first = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "first.log")
    first.start()
    publish_stream(settings, STREAM, EVENTS)
    wait_for_predictions(first, EVENTS)
    publish(settings.kafka, settings.topic_labels, labels(EVENTS))
    wait_for_labels(first, "joined", EVENTS // 2)
    first.kill()  # mid-stream: a batch may be joined in Redis and not yet saved
    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    second.start()
    try:
        deadline = time.monotonic() + 60
        while (seen := stored_labels_seen(settings)) < EVENTS and time.monotonic() < deadline:
            time.sleep(0.5)
        assert seen == EVENTS
        time.sleep(2)  # anything counted twice would show by now
        assert stored_labels_seen(settings) == EVENTS
        assert second.metric_total("driftline_labels_total", outcome="rejected") == 0
    finally:
        assert second.stop() == 0
