"""The durability promises, each against the real servers:

- fencing: a save built on an older save than the model's last is refused and changes
  nothing (the save Lua script, ``RedisMonitorStore``, ``AppliedOffsets``;
  tests/integration/test_paused_writer.py has two workers at once);
- dead letters before commit: while the dead-letter topic cannot be written, the committed
  offset never passes the bad record and ``driftline_retries_total{target=<dlq>}`` rises;
  once it can, the record lands once and the commit moves on;
- forced redelivery: a worker SIGKILLed between applying records and committing them is
  replaced by one that skips every redelivered record and applies each new one once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis
from confluent_kafka.admin import AdminClient

from streams.adapters.kafka.admin import ensure_topics
from streams.adapters.kafka.records import end_offsets, publish
from streams.adapters.redis.applied_offsets import AppliedOffsets
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.core.contract.event import RawRecord
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    committed,
    free_port,
    isolated_env,
    publish_stream,
    read_all,
    wait_for,
    wait_until_processed,
    worker_through,
)
from tests.integration.scratch_state import lose_every_key, scratch_redis, store_and_writer

pytestmark = pytest.mark.integration


def update(marker: int) -> MonitorUpdate:
    return MonitorUpdate("it-fence", "v1", {"marker": marker}, None, [])


def counted_applied(
    client: aioredis.Redis, prefix: str
) -> tuple[RedisMonitorStore, AppliedOffsets, Any, Any]:
    """A store, and the worker's view of it counting refused and lost states."""
    store, metrics, writer = store_and_writer(client, prefix)
    refused, lost = metrics.saves_refused.labels("state"), metrics.state_lost.labels("state")
    return (
        store,
        AppliedOffsets(store, writer, metrics.replayed_skipped, refused, lost),
        refused,
        lost,
    )


def test_a_save_built_on_an_older_save_is_refused_and_changes_nothing(stack_config):
    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-fence") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix)
            skipped = metrics.replayed_skipped
            applied = AppliedOffsets(store, writer, skipped)
            assert await store.save([update(1)], {0: 10, 1: 3}, token="t1") == set()
            # Writers that read before that save (none), or before another one: at offsets
            # equal, behind, and ahead, it does not matter.
            for stale in ({0: 10}, {0: 9}, {0: 11, 1: 3}):
                for read in ("", "t0"):
                    refused = await store.save([update(2)], stale, expected={"it-fence": read})
                    assert refused == {"it-fence"}, (stale, read)
                stored = (await store.fetch("it-fence", "v1")).parse()
                assert stored is not None and stored.snapshot == {"marker": 1}, stale
                assert await store.applied_offsets([0, 1]) == {0: 10, 1: 3}
            # A new worker reading Redis skips what was applied, and counts it.
            records = [
                RawRecord(b"{}", 0, "predictions", p, o)
                for p, o in ((0, 9), (0, 10), (0, 11), (1, 4))
            ]
            fresh = await applied.fresh(records)
            assert [(r.partition, r.offset) for r in fresh] == [(0, 11), (1, 4)]
            assert skipped._value.get() == 2
            # It read the fence with the last save's token: its save is built on that one.
            assert await applied.fresh_events(["it-fence"] * 2, [(0, 11), (1, 4)], fresh) == [0, 1]
            assert await applied.save([update(3)], fresh) == set()
            assert (await store.fetch("it-fence", "v1")).parse().snapshot == {"marker": 3}
            assert await store.applied_offsets([0, 1]) == {0: 11, 1: 4}

    asyncio.run(scenario())


def test_a_model_whose_keys_redis_lost_is_saved_again_whole_unless_another_saved_it(
    stack_config,
):
    """Redis lost the model's keys (a restart without persistence, an empty replica
    promoted): the save tells that apart from another worker's save, and writes what the
    worker holds, whole; where another worker saved the model since the loss, that one wins."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-lost") as (client, prefix):
            store, applied, refused, lost = counted_applied(client, prefix)
            asked: list[frozenset[str]] = []

            async def whole(models):
                asked.append(models)
                if len(asked) == 2:  # another worker saves the model meanwhile
                    assert await store.save([update(9)], {0: 2}, expected={"it-fence": ""}) == set()
                return [MonitorUpdate("it-fence", "v1", {"marker": 2, "whole": True},
                                      {"model_id": "it-fence"}, [])], {}  # fmt: skip

            applied.whole = whole
            batch = [RawRecord(b"{}", 0, "predictions", 0, offset) for offset in range(4)]
            elsewhere = [RawRecord(b"{}", 0, "predictions", 1, 7)]  # a partition since idle
            await applied.fresh_events(["it-fence"], [(0, 0)], batch[:1])
            assert await applied.save([update(1)], batch[:1]) == set()
            assert await applied.save([update(1)], elsewhere) == set()
            await lose_every_key(client, prefix)
            assert await applied.overtaken(["it-fence"]) == set(), "no other worker saved it"
            # The save of the next batch is refused as gone, and the whole state written.
            assert await applied.save([update(2)], batch[1:2]) == set()
            assert asked == [frozenset({"it-fence"})]
            stored = (await store.fetch("it-fence", "v1")).parse()
            assert stored.snapshot == {"marker": 2, "whole": True}
            assert stored.profile == {"model_id": "it-fence"}
            assert await store.applied_offsets([0, 1]) == {0: 1, 1: 7}, "low-water marks too"
            assert (lost._value.get(), refused._value.get()) == (1, 0)
            # Lost again, and another worker saves the model before the whole state is
            # written: that one is refused, the other's stays.
            await lose_every_key(client, prefix)
            assert await applied.save([update(3)], batch[2:3]) == {"it-fence"}
            assert (await store.fetch("it-fence", "v1")).parse().snapshot == {"marker": 9}
            assert lost._value.get() == 2

    asyncio.run(scenario())


async def _dump(client: aioredis.Redis, prefix: str) -> dict[bytes, bytes]:
    """Every key under ``prefix`` as DUMP gives it: Redis as it is now."""
    return {key: await client.dump(key) for key in await client.keys(f"{prefix}:*")}


async def _go_back(client: aioredis.Redis, prefix: str, dumped: dict[bytes, bytes]) -> None:
    """Redis as it was when ``dumped``: what a restart from a persistence file behind its
    last writes, or a replica promoted before it had them, would hold."""
    await lose_every_key(client, prefix)
    for key, value in dumped.items():
        await client.restore(key, 3_600_000, value, replace=True)


def test_a_model_redis_took_back_to_an_earlier_save_is_saved_again_whole(stack_config):
    """Redis went back to an earlier save of this worker's (it lost the writes after it):
    not another worker's save, so the state the worker holds is written again whole (the
    reference chunks replaced, not appended twice) at the next save, with every other model
    it saved lately that Redis took back too (the low-water marks written back would pass
    their records); for models with no event since, by the check between batches. Counted
    as lost. A save of another worker's since is still refused."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-back") as (client, prefix):
            store, applied, refused, lost = counted_applied(client, prefix)
            chunks = [{"chunk": 1}, {"chunk": 2}]

            async def whole(models):
                return [MonitorUpdate(m, "v1", {"model": m, "whole": True}, None, chunks, True)
                        for m in sorted(models)], {}  # fmt: skip

            applied.whole = whole
            batch = [RawRecord(b"{}", 0, "predictions", 0, offset) for offset in range(6)]
            saved = await applied.save([MonitorUpdate("m", "v1", {"n": 1}, None, chunks[:1]),
                                        MonitorUpdate("idle", "v1", {"n": 1}, None, [])],
                                       batch[:1])  # fmt: skip
            assert saved == set()
            earlier = await _dump(client, prefix)
            assert await applied.save([MonitorUpdate("m", "v1", {"n": 2}, None, chunks[1:]),
                                       MonitorUpdate("idle", "v1", {"n": 2}, None, [])],
                                      batch[1:2]) == set()  # fmt: skip
            await _go_back(client, prefix, earlier)
            assert await store.applied_offsets([0]) == {0: 0}
            assert await applied.overtaken(["m", "idle"]) == set(), "no other worker saved"
            assert await applied.save([MonitorUpdate("m", "v1", {"n": 3}, None, [])],
                                      batch[2:3]) == set()  # fmt: skip
            stored = (await store.fetch("m", "v1")).parse()
            assert stored.snapshot == {"model": "m", "whole": True}
            assert stored.reference == chunks, "replaced, not appended to what was left"
            assert await store.applied_offsets([0]) == {0: 2}, "the low-water marks too"
            assert (await store.fetch("idle", "v1")).parse().snapshot["whole"] is True
            assert (lost._value.get(), refused._value.get()) == (2, 0)
            # Saves after it build on it.
            assert await applied.save([MonitorUpdate("m", "v1", {"n": 4}, None, []),
                                       MonitorUpdate("idle", "v1", {"n": 4}, None, [])],
                                      batch[3:4]) == set()  # fmt: skip
            assert (await store.fetch("m", "v1")).parse().snapshot == {"n": 4}
            # Taken back again, and no event after it: found by the check between batches.
            earlier = await _dump(client, prefix)
            assert await applied.save([MonitorUpdate("idle", "v1", {"n": 5}, None, [])],
                                      batch[4:5]) == set()  # fmt: skip
            await _go_back(client, prefix, earlier)
            assert await applied.save_lost(60) == set()
            assert (await store.fetch("idle", "v1")).parse().snapshot["whole"] is True
            assert (await store.fetch("m", "v1")).parse().snapshot == {"n": 4}, "not lost"
            assert lost._value.get() == 3
            # Another worker's save since is not an earlier one of this worker's: refused.
            other = await store.save([MonitorUpdate("m", "v1", {"n": 9}, None, [])], {0: 9})
            assert other == set()
            assert await applied.save([MonitorUpdate("m", "v1", {"n": 5}, None, [])],
                                      batch[5:6]) == {"m"}  # fmt: skip
            assert (await store.fetch("m", "v1")).parse().snapshot == {"n": 9}
            assert (lost._value.get(), refused._value.get()) == (3, 0)

    asyncio.run(scenario())


def test_a_model_redis_took_back_to_the_save_it_was_taken_over_at_is_saved_again_whole(
    stack_config,
):
    """Worker A took the model over from B's save and saved it; Redis went back to B's save
    (or an earlier one of B's). That is no save of B's since A read the model, so A writes
    what it holds again, whole, rather than reload B's state and lose its own saves'
    events. A save of B's made after A read the model is still refused."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-back-other") as (client, prefix):
            store, a, refused, lost = counted_applied(client, prefix)
            b = counted_applied(client, prefix)[1]

            async def whole(models):
                return [MonitorUpdate(m, "v1", {"whole": True}, None, [], True)
                        for m in sorted(models)], {}  # fmt: skip

            a.whole = whole
            batch = [RawRecord(b"{}", 0, "predictions", 0, offset) for offset in range(5)]
            assert await b.save([MonitorUpdate("m", "v1", {"n": 1}, None, [])], batch[:1]) == set()
            b_earlier = await _dump(client, prefix)
            assert await b.save([MonitorUpdate("m", "v1", {"n": 2}, None, [])],
                                batch[1:2]) == set()  # fmt: skip
            taken_over = await _dump(client, prefix)
            await a.know(["m"])  # A takes the model over at B's second save
            assert await a.save([MonitorUpdate("m", "v1", {"n": 3}, None, [])],
                                batch[2:3]) == set()  # fmt: skip
            for dumped in (taken_over, b_earlier):
                await _go_back(client, prefix, dumped)
                assert await a.overtaken(["m"]) == set(), "no save of B's since A read it"
                assert await a.save([MonitorUpdate("m", "v1", {"n": 4}, None, [])],
                                    batch[3:4]) == set()  # fmt: skip
                assert (await store.fetch("m", "v1")).parse().snapshot == {"whole": True}
            assert (lost._value.get(), refused._value.get()) == (2, 0)
            # B saving after A read the model (a later count of B's): another worker's save.
            later = f"{b.tokens.writer_id}.9"
            assert await store.save([MonitorUpdate("m", "v1", {"n": 9}, None, [])], {0: 9},
                                    token=later) == set()  # fmt: skip
            assert await a.overtaken(["m"]) == {"m"}
            assert await a.save([MonitorUpdate("m", "v1", {"n": 5}, None, [])],
                                batch[4:5]) == {"m"}  # fmt: skip
            assert (await store.fetch("m", "v1")).parse().snapshot == {"n": 9}

    asyncio.run(scenario())


def test_between_batches_what_redis_lost_of_a_model_saved_lately_is_saved_again(stack_config):
    """No event comes after the loss, so no save finds it: the check between batches does,
    for the models this worker saved within its window (older keys may have expired; a
    model idle past the state's TTL is saved again at its next save, and not as lost)."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-lost-idle") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix)
            lost = metrics.state_lost.labels("state")
            applied = AppliedOffsets(store, writer, metrics.replayed_skipped, None, lost)
            now = [1000.0]
            applied.clock = lambda: now[0]

            async def whole(models):
                return [MonitorUpdate(m, "v1", {"model": m, "whole": True}, None, [])
                        for m in sorted(models)], {}  # fmt: skip

            applied.whole = whole
            batch = [RawRecord(b"{}", 0, "predictions", 0, offset) for offset in range(3)]
            assert await applied.save_lost(60) == set(), "nothing saved yet: nothing to check"
            assert await applied.save([MonitorUpdate("idle-a", "v1", {"n": 1}, None, [])],
                                      batch[:2]) == set()  # fmt: skip
            now[0] += 100
            assert await applied.save([MonitorUpdate("idle-b", "v1", {"n": 1}, None, [])],
                                      batch[2:]) == set()  # fmt: skip
            assert await applied.save_lost(60) == set()
            assert lost._value.get() == 0, "nothing lost: nothing written again"
            await lose_every_key(client, prefix)
            # idle-a was saved 100 s ago, past the 60 s window: its keys may have expired.
            assert await applied.save_lost(60) == set()
            assert await store.fetch("idle-a", "v1") is None
            assert (await store.fetch("idle-b", "v1")).parse().snapshot == {
                "model": "idle-b", "whole": True}  # fmt: skip
            assert await store.applied_offsets([0]) == {0: 2}, "the low-water marks too"
            assert lost._value.get() == 1
            assert await applied.save_lost(60) == set() and lost._value.get() == 1, "once"
            # A save after it builds on the save it made.
            assert await applied.save([MonitorUpdate("idle-b", "v1", {"n": 2}, None, [])],
                                      batch[2:]) == set()  # fmt: skip
            # Idle past the state's TTL, its keys expired as told: written again at its next
            # save, and not counted as lost.
            now[0] += store.ttl_s
            await lose_every_key(client, prefix)
            assert await applied.save([MonitorUpdate("idle-b", "v1", {"n": 3}, None, [])],
                                      batch[2:]) == set()  # fmt: skip
            assert (await store.fetch("idle-b", "v1")).parse().snapshot["whole"] is True
            assert lost._value.get() == 1

    asyncio.run(scenario())


def test_copies_after_a_batchs_last_fresh_record_are_saved_past(stack_config):
    """A re-forwarded chunk's copies can share a fetched batch with the originals they copy
    (found by the chaos suite: the stored offset stayed before the copies, two records
    short of the by-model topic's end, and the harness waited for them forever)."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-copies") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix, topic="by-model")
            applied = AppliedOffsets(store, writer, metrics.replayed_skipped)
            # (source offset, by-model offset): two originals, then their copies.
            placed = ((5088, 10489), (5330, 10490), (5088, 10491), (5330, 10492))
            batch = [
                RawRecord(b"{}", 0, "predictions", 2, src, None, (0, at)) for src, at in placed
            ]
            fresh = await applied.fresh(batch)
            assert [r.position for r in fresh] == [(0, 10489), (0, 10490)]
            assert await applied.save([update(1)], fresh) == set()
            assert await store.applied_offsets([0]) == {0: 10492}
            assert await store.applied_sources() == {(0, "predictions", 2): 5330}

    asyncio.run(scenario())


def test_a_dead_letter_is_on_its_topic_before_the_bad_record_is_committed(stack_config, tmp_path):
    """The dead-letter topic is deleted (the broker runs with auto-creation off), so each
    send fails with a retriable error (UNKNOWN_TOPIC_OR_PARTITION until the producer's
    timeout): an outage of the topic, not a record the broker refuses for what it is (those
    are permanent errors and are handled apart). Then it is created again."""
    env = isolated_env(stack_config, tmp_path / "faust") | {
        # The input topic's own offsets and commits: the repartition path's are
        # tests/integration/test_ownership.py's.
        "DRIFTLINE_ROUTING": "keyed",
        "DRIFTLINE_PRODUCER_TIMEOUT_S": "2",  # each failed send is counted soon
        "DRIFTLINE_COMMIT_INTERVAL_S": "0.5",  # a wrong commit would show soon
    }
    settings = Settings.from_env(env)
    kafka, dlq = settings.kafka, settings.topic_dlq
    stream = StreamConfig(model_id="it-dlq", seed=3)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, stream, 300)
        wait_until_processed(worker, 300)
        ends = end_offsets(kafka, settings.topic_predictions)
        wait_for(lambda: committed(settings) == ends, "the good records committed")

        admin = AdminClient(kafka.confluent())
        admin.delete_topics([dlq])[dlq].result(30)
        wait_for(lambda: dlq not in admin.list_topics(timeout=10).topics, "the DLQ deleted")
        ((partition, bad),) = publish(kafka, settings.topic_predictions, [(b"it-dlq", b"nope")])
        publish_stream(settings, stream, 100, offset=300)

        wait_for(lambda: worker.metric_total("driftline_retries_total", target=dlq) >= 3,
                 "dead-letter retries counted")  # fmt: skip
        assert committed(settings)[partition] <= bad, "committed past an undelivered letter"
        assert worker.metric_total("driftline_events_rejected_total") == 0

        ensure_topics(kafka, [dlq], partitions=settings.partitions)
        wait_for(lambda: worker.metric_total("driftline_events_rejected_total") == 1,
                 "the bad record dead-lettered once the topic is back")  # fmt: skip
        ends = end_offsets(kafka, settings.topic_predictions)
        wait_for(lambda: committed(settings) == ends, "the commit moved past it")
        wait_until_processed(worker, 400)
        letters = read_all(settings, dlq)
    finally:
        assert worker.stop() == 0
    assert [letter.value for letter in letters] == [b"nope"], "landed once"


def test_records_redelivered_after_a_crash_are_skipped_and_new_ones_applied_once(
    stack_config, tmp_path
):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        # The input topic's own offsets and commits: the repartition path's are
        # tests/integration/test_ownership.py's.
        "DRIFTLINE_ROUTING": "keyed",
        "DRIFTLINE_COMMIT_INTERVAL_S": "3600",  # nothing applied is committed before the kill
    }
    settings = Settings.from_env(env)
    stream = StreamConfig(model_id="it-redeliver", seed=5)
    first = worker_through(env, tmp_path / "first.log", stream, 2_000)
    assert sum(committed(settings).values()) == 0, "a commit came before the crash"
    first.kill()

    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    second.start()
    try:
        publish_stream(settings, stream, 1_000, offset=2_000)
        # Every record of the topic is seen: 2,000 redelivered and skipped, 1,000 applied.
        wait_for(
            lambda: (
                second.metric_total("driftline_replayed_records_skipped_total")
                + second.metric_total("driftline_events_processed_total")
                >= 3_000
            ),
            "every record seen by the second worker",
        )
        assert second.metric_total("driftline_replayed_records_skipped_total") == 2_000
        assert second.metric_total("driftline_events_processed_total") == 1_000
    finally:
        assert second.stop() == 0
    # A graceful stop commits what was applied, however long the interval.
    assert committed(settings) == end_offsets(settings.kafka, settings.topic_predictions)
