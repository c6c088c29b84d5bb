"""A committed offset past what Redis's state holds means Redis lost writes it had
acknowledged (an offset is committed only once its state is saved): the partitions are read
again from the state's fences (``streams/adapters/faust/rewind.py``, RELIABILITY finding
39), checked here against the stack's Redis. The worker does this at every assignment;
``loadtest/chaos.py``'s ``redis_rollback_crash`` runs it end to end."""

from __future__ import annotations

import asyncio
import threading
import time

import orjson
import pytest
import redis

from streams.adapters.faust.rewind import MARKS_READ_S, behind_direct_marks, behind_marks
from streams.adapters.kafka.records import publish
from streams.adapters.kafka.roads import COPY, direct_road, direct_slot
from streams.adapters.redis.applied_offsets import AppliedOffsets
from streams.adapters.redis.road_store import RedisRoads, RoadCheck
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.settings import Settings
from streams.simulation import StreamConfig, keyed_events
from streams.stack.worker import WorkerProcess, free_port
from tests.integration.conftest import (
    isolated_env,
    redis_hung,
    wait_for,
    wait_until_processed,
    worker_through,
)
from tests.integration.scratch_state import scratch_redis, store_and_writer

pytestmark = pytest.mark.integration


def update(marker: int) -> MonitorUpdate:
    return MonitorUpdate("it-behind", "v1", {"marker": marker}, None, [])


def test_partitions_committed_past_the_stored_state_are_read_again_from_it(stack_config, caplog):
    """Past a partition's low-water mark the partition is read again from the mark; with no
    mark (Redis came back from before its first save), from its start. At or before the
    mark (a crash before the commit), nothing moves."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-behind") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix)
            behind = metrics.state_behind.labels("state")
            applied = AppliedOffsets(store, writer, metrics.replayed_skipped, None, None, behind)
            check = behind_marks(applied)
            assert await store.save([update(1)], {0: 10, 1: 3, 2: 7}) == set()
            committed = {0: 11, 1: 9, 2: 5, 3: 40}
            assert await check(committed) == {1: 4, 3: 0}
            assert behind._value.get() == 2
            assert "behind the committed offsets of 2 partitions of predictions" in caplog.text
            assert await check({0: 11, 2: 8}) == {}
            assert behind._value.get() == 2

    asyncio.run(scenario())


def test_input_partitions_routed_direct_are_read_again_from_their_direct_fence(
    stack_config, caplog
):
    """With direct routing a router applies the records on their model's partition where it
    reads them, and commits them with the input partition: its direct fence (up to the end
    of each chunk, copies included) is what a commit past means lost writes; where Redis
    holds no fence, from the road's first record; where it holds no road, from past the
    last of its own models' records applied (directly, or as copies on the by-model
    partition of its number; RELIABILITY finding 46). Copy segments are left out (their copies are
    checked on the by-model topic), and a partition whose road is a copy now is not
    checked at all."""
    road = direct_road(4)

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-behind-direct") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix, topic="by-model")
            behind = metrics.state_behind.labels("state")
            applied = AppliedOffsets(store, writer, metrics.replayed_skipped, None, None, behind)
            roads = RedisRoads(client, prefix=prefix, topic="predictions")
            segments = {0: [(0, road)], 1: [(0, road)], 2: [(0, road), (500, COPY)],
                        3: [(0, road), (100, COPY), (300, road)], 4: [(20, road)]}  # fmt: skip
            for partition, claims in segments.items():
                for start, each in claims:
                    await roads.claim(partition, start, each)
            fences = {0: 99, 1: 199, 2: 99, 3: 99}  # partition 4: none stored
            # Partitions 5 to 8: no road stored. 5's records applied up to 70 (as copies on
            # by-model partitions 0 and 2, at 40 and 30, as read directly at 70), 6's none;
            # 7's only as copies of other models' records (at 60, on by-model partition 0),
            # its own models' lost with Redis; 8's own as copies on by-model partition 8 up
            # to 45 (a switch from repartition routing), another model's up to 80.
            applied_sources = {(0, "predictions", 5): 40, (direct_slot(5), "predictions", 5): 70,
                               (2, "predictions", 5): 30, (1, "elsewhere", 6): 90,
                               (0, "predictions", 7): 60, (8, "predictions", 8): 45,
                               (0, "predictions", 8): 80}  # fmt: skip
            # A by-model partition's mark of the same number is not an input partition's.
            assert await store.save([update(1)], {1: 10**6} | {
                direct_slot(p): end for p, end in fences.items()
            }, sources=applied_sources) == set()  # fmt: skip

            async def now() -> str | None:
                return road

            check = behind_direct_marks(applied, RoadCheck(roads, now, claims_direct=True))
            committed = {0: 100, 1: 250, 2: 600, 3: 400, 4: 50, 5: 100, 6: 30, 7: 90, 8: 90}
            # 1: from past its fence; 3: from where its second direct segment starts;
            # 4: from its road's start (its fence lost); 5 to 8: past the last of their own
            # models' records applied, as copies (counted apart: a switch from repartition
            # looks so).
            assert await check(committed) == {1: 200, 3: 300, 4: 20, 5: 71, 6: 0, 7: 0, 8: 46}
            assert behind._value.get() == 3
            assert "behind the committed offsets of 3 partitions of predictions" in caplog.text
            assert "4 partitions of predictions have no road stored" in caplog.text
            assert await check({5: 71}) == {}, "nothing past the last record applied"
            # A router that claims no direct road (repartition routing) copies every record:
            # a partition with no road is no sign of anything lost.
            copying = behind_direct_marks(applied, RoadCheck(roads, now))
            assert await copying({5: 100, 6: 30}) == {}

            async def copies_only() -> str | None:  # the input topic's count differs
                return None

            unchecked = behind_direct_marks(applied, RoadCheck(roads, copies_only))
            assert await unchecked(committed) == {}
            assert await behind_marks(applied)({1: 250}) == {}, "by-model partition 1 is ahead"

    asyncio.run(scenario())


def test_a_direct_routed_worker_after_a_clean_stop_finds_nothing_behind(stack_config, tmp_path):
    """No false alarm: input partially keyed by model id, so that some partitions' chunks end
    in copies or hold nothing but copies, committed at a clean stop. The next worker reads
    on from the commits: nothing read again, nothing said to be behind. (The first worker
    claims the direct road as it starts, with nothing published yet.)"""
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_ROUTING": "direct", "DRIFTLINE_PARTITIONS": "3",
    }  # fmt: skip
    settings = Settings.from_env(env)
    stream = StreamConfig(model_id="it-behind-direct", seed=5)
    records = [
        (key if i % 2 else orjson.loads(value)["event_id"].encode(), value)
        for i, (key, value) in enumerate(keyed_events(stream, 2_000))
    ]
    first = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "first.log")
    first.start()
    for start in range(0, 1_500, 250):  # the road is claimed at the first fetch's end
        publish(settings.kafka, settings.topic_predictions, records[start : start + 250])
        wait_until_processed(first, start + 250)
    assert first.stop() == 0
    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    second.start()
    try:
        second.wait_for_partitions()
        publish(settings.kafka, settings.topic_predictions, records[1_500:])
        wait_until_processed(second, 500)
        assert second.metric_total("driftline_replayed_records_skipped_total") == 0
        assert second.metric_total("driftline_state_behind_commits_total") == 0
    finally:
        assert second.stop() == 0
    assert "behind the committed offsets" not in (tmp_path / "second.log").read_text()


def test_partitions_not_compared_at_assignment_wait_until_redis_answers(stack_config, tmp_path):
    """Redis not answering as partitions are assigned (restarting, loading its data, hung)
    must not let the worker read on from commits past the state: those partitions wait, and
    are compared, and read again where behind, once it answers. Here the marks were lost
    while no worker ran; the records between are skipped by the models' fences."""
    env = isolated_env(stack_config, tmp_path / "faust")
    settings = Settings.from_env(env)
    first = worker_through(env, tmp_path / "first.log", StreamConfig(model_id="it-uncompared"), 400)
    assert first.stop() == 0
    client = redis.Redis.from_url(stack_config.redis_url)
    monitored = settings.monitored(settings.topic_predictions)
    assert client.delete(f"{settings.redis_prefix}:offsets:{monitored}") == 1
    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    starting = threading.Thread(target=second.start)
    try:
        with redis_hung(stack_config):
            starting.start()
            wait_for(lambda: "could not compare the committed" in log_text(second),
                     "the compare to fail")  # fmt: skip
            time.sleep(MARKS_READ_S + 1)  # past a compare of each topic, one after the other
        starting.join()
        wait_for(lambda: second.metric_total("driftline_state_behind_commits_total") > 0,
                 "the partitions found behind", timeout_s=30)  # fmt: skip
        wait_for(lambda: second.metric_total("driftline_replayed_records_skipped_total") > 0,
                 "the records read again skipped")  # fmt: skip
        assert "compared the committed offsets" in log_text(second)
    finally:
        second.stop()


def log_text(worker: WorkerProcess) -> str:
    return worker.log_path.read_text() if worker.log_path.exists() else ""
