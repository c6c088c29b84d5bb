"""A save that refuses some models (another worker saved them since this one read them) must
leave Redis saying no more than what was applied: the low-water marks stay before the refused
models' records until they are applied again and saved, and then reach the batch's end."""

from __future__ import annotations

import asyncio

import pytest

from streams.adapters.faust.labels import LabelService
from streams.adapters.redis.applied_offsets import AppliedOffsets
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.core import SpecRegistry
from streams.core.alerts.sink import MemoryAlertSink
from streams.core.contract.decoder import LabelDecoder
from streams.core.contract.event import RawRecord
from streams.core.labels.performance_monitor import PerformanceConfig
from tests.integration.scratch_state import scratch_redis, store_and_writer

pytestmark = pytest.mark.integration


def update(model_id: str, marker: object) -> MonitorUpdate:
    return MonitorUpdate(model_id, "v1", {"marker": marker}, None, [])


def records(offsets: range, partition: int = 0) -> list[RawRecord]:
    return [RawRecord(b"{}", 0, "predictions", partition, offset) for offset in offsets]


def test_a_lost_models_whole_save_raises_no_mark_past_a_model_refused_beside_it(stack_config):
    """Model a's keys are gone and b was saved by another worker, in one batch: a is saved
    again whole, b is refused, and a worker stopped before b's records are applied again
    leaves the next owner the low-water mark before them."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-refused") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix)
            applied = AppliedOffsets(store, writer, metrics.replayed_skipped)

            async def whole(models):
                return [update(m, "whole") for m in sorted(models)], {}

            applied.whole = whole
            first = records(range(10))
            await applied.fresh(first)
            await applied.fresh_events(["a", "b"], [(0, 0), (0, 1)], first)
            assert await applied.save([update("a", 1), update("b", 1)], first) == set()
            assert await store.applied_offsets([0]) == {0: 9}
            # Meanwhile: a's keys gone (expired, or lost by Redis), b saved by another worker.
            await client.delete(*await client.keys(f"{store.model_base('a')}:*"))
            token = (await store.last_saves(["b"]))["b"]
            assert await store.save([update("b", "other")], {}, expected={"b": token}) == set()

            second = records(range(10, 20))
            fresh = await applied.fresh(second)
            await applied.fresh_events(["a", "b"], [(0, 10), (0, 11)], fresh)
            assert await applied.save([update("a", 2), update("b", 2)], fresh) == {"b"}
            assert (await store.fetch("a", "v1")).parse().snapshot == {"marker": "whole"}
            assert await store.applied_offsets([0]) == {0: 9}, "b's records are not applied"
            # The next owner (a fresh view of Redis) reads b's records of the batch again.
            successor = AppliedOffsets(store, writer, metrics.replayed_skipped)
            again = await successor.fresh(second)
            assert [r.offset for r in again] == list(range(10, 20))
            kept = await successor.fresh_events(["a", "b"], [(0, 10), (0, 11)], again)
            assert kept == [1], "a's record is covered by its fence, b's is not"

    asyncio.run(scenario())


def test_copies_at_a_batchs_end_are_saved_past_once_its_refused_models_are_saved(stack_config):
    """A routed batch ending in re-forwarded copies (skipped) and refused for one model: the
    save of that model's events applied again stores the batch's end, copies included, so the
    commit past them does not read as writes Redis lost."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-refused-end") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix, topic="by-model")
            applied = AppliedOffsets(store, writer, metrics.replayed_skipped)
            # By-model offsets 0-4 of source offsets 10-14, then copies of 13 and 14.
            placed = [(at, 10 + at) for at in range(5)] + [(5, 13), (6, 14)]
            batch = [
                RawRecord(b"{}", 0, "predictions", 0, src, None, (0, at)) for at, src in placed
            ]
            fresh = await applied.fresh(batch)
            assert [r.position for r in fresh] == [(0, at) for at in range(5)]
            await applied.fresh_events(["b"], [(0, 10)], fresh)
            token = (await store.last_saves(["b"]))["b"]
            assert await store.save([update("b", "other")], {}, expected={"b": token}) == set()
            assert await applied.save([update("b", 1)], fresh) == {"b"}
            applied.forget_models({"b"})
            await applied.fresh_events(["b"], [(0, 10)], fresh)
            assert await applied.save([update("b", 2)], fresh) == set()
            assert await store.applied_offsets([0]) == {0: 6}

    asyncio.run(scenario())


def test_a_rebalance_resets_a_service_only_once_the_pass_running_has_ended(stack_config):
    """A timer's pass (waiting labels joined, lost state saved again) is not a chunk the
    rebalance waits for: reset under it, its save would expect no token and go unchecked
    over the new owner's save. The reset waits for it, and then forgets what it held."""

    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-reset") as (client, prefix):
            store, metrics, _ = store_and_writer(client, prefix, topic="labels")
            service = LabelService(
                decoder=LabelDecoder(), join=RedisLabelJoin(client, prefix=prefix),
                registry=SpecRegistry([]), config=PerformanceConfig(), store=store,
                dead_letters=None, sink=MemoryAlertSink(), metrics=metrics,
            )  # fmt: skip
            await service.applied.know(["m"])
            service.waiting.add("m")
            async with service.passing:  # the timer's pass
                reset = asyncio.ensure_future(service.reset_between_passes())
                await asyncio.sleep(0.1)
                assert not reset.done()
                assert service.applied.tokens.last("m") == "" and service.waiting == {"m"}
            await asyncio.wait_for(reset, 5)
            assert service.applied.tokens.last("m") is None and service.waiting == set()

    asyncio.run(scenario())
