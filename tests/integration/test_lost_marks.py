"""After Redis lost every key, a worker writes back what it holds with the marks of the
partitions it reads, and no others (RELIABILITY.md, finding 45).

Its copy of the other partitions' source marks is as old as its first read of them, and
the states those marks stood for (another worker's) went with the loss: written back, they
told the worker taking those partitions over that records were applied which no state held
any more, and it skipped them (``redis_lost_takeover``: 1,000 events of a model lost).
"""

from __future__ import annotations

import asyncio

import pytest

from streams.adapters.redis.applied_offsets import AppliedOffsets
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.core.contract.event import RawRecord
from tests.integration.scratch_state import lose_every_key, scratch_redis, store_and_writer

pytestmark = pytest.mark.integration


def test_a_write_back_after_a_loss_leaves_out_the_marks_of_partitions_read_elsewhere(
    stack_config,
):
    async def scenario() -> None:
        async with scratch_redis(stack_config, "it-lost-marks") as (client, prefix):
            store, metrics, writer = store_and_writer(client, prefix)
            applied = AppliedOffsets(store, writer, metrics.replayed_skipped)
            # Another worker applied copies of input partition 2 on by-model partition 2.
            elsewhere = (2, "predictions", 2)
            assert await store.save([], {2: 4}, sources={elsewhere: 999}) == set()

            async def whole(models):
                return [MonitorUpdate("m0", "v1", {"whole": True}, None, [])], {}

            applied.whole = whole
            copy = RawRecord(b"{}", 0, "predictions", 0, 10, read_at=(0, 3))
            assert await applied.fresh([copy]) == [copy]  # reads every partition's marks
            assert (
                await applied.save([MonitorUpdate("m0", "v1", {"n": 1}, None, [])], [copy]) == set()
            )
            await lose_every_key(client, prefix)
            assert await applied.save_lost(60) == set()
            assert (await store.fetch("m0", "v1")).parse().snapshot == {"whole": True}
            assert await store.applied_sources() == {(0, "predictions", 0): 10}
            assert await store.applied_offsets([0, 2]) == {0: 3}

    asyncio.run(scenario())
