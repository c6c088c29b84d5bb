"""The rollout (canary) state when two workers apply one model at once, or one dies between
steps, against the real Redis: it must take each event and each label once, as the monitor
state does (``test_paused_writer``).

The canary key was written apart from the fenced save, after it: a worker paused between
the two overwrote the new owner's canary counts with its own, older ones; and a label's
canary count was saved before the label's own save, so a worker killed between the two
had the labels counted again by the next one.
"""

from __future__ import annotations

import contextlib
import itertools

import faust
import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from streams.adapters.faust.labels import LabelService
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.rollout_store import RedisRolloutStore
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core import SpecRegistry
from streams.core.alerts.sink import MemoryAlertSink
from streams.core.contract.decoder import LabelDecoder
from streams.core.rollout.canary import CanaryConfig
from streams.core.rollout.rollouts import Rollouts
from tests.integration.test_paused_writer import (
    EVENTS,
    LABELS,
    M,
    Worker,
    label_records,
    on_redis,
    specs,
)

pytestmark = pytest.mark.integration

_RUNS = itertools.count()
#: One canary window for the whole stream: its open tally counts every event and label.
CANARY = CanaryConfig(window_s=10**7)


class Crashed(Exception):
    pass


class CanaryWorker(Worker):
    """A worker with canary state, as every worker has (``Settings.rollouts``)."""

    def __init__(self, client: aioredis.Redis, prefix: str, dead_letters: faust.TopicT) -> None:
        super().__init__(client, prefix, dead_letters)
        self.service.monitor.rollouts = Rollouts(CANARY)
        self.service.rollout_store = RedisRolloutStore(client, prefix=prefix)


class PausedAfterSave(CanaryWorker):
    """Runs ``meanwhile`` (once) right after its next state save returns: where a worker
    frozen past a rebalance would wake."""

    meanwhile = None

    async def _after_save(self) -> None:
        step, self.meanwhile = self.meanwhile, None
        if step is not None:
            await step()

    def __init__(self, *args) -> None:
        super().__init__(*args)
        save = self.service._save_state

        async def save_then_pause(*a, **k):
            refused = await save(*a, **k)
            await self._after_save()
            return refused

        self.service._save_state = save_then_pause


async def canary_tally(client: aioredis.Redis, prefix: str) -> dict:
    stored = await RedisRolloutStore(client, prefix=prefix).fetch("m")
    assert stored is not None, "no canary state stored"
    return stored["open"]["v1"]


def run(stack_config, steps) -> dict:
    """``steps(client, prefix, dlq)``, then m's canary tally as stored."""

    async def go(client, prefix, dlq) -> dict:
        await steps(client, prefix, dlq)
        return await canary_tally(client, prefix)

    return on_redis(stack_config, "paused-canary", go)


def test_a_worker_paused_after_its_save_leaves_the_owners_canary_counts(stack_config):
    # Before: the zombie saved its state, froze, and wrote its canary state after the
    # owner had rebuilt on that state and saved: the owner's canary counts were lost.
    async def steps(client, prefix, dlq) -> None:
        zombie = PausedAfterSave(client, prefix, dlq)
        owner = CanaryWorker(client, prefix, dlq)
        await zombie.service.process(M[:100])
        zombie.meanwhile = lambda: owner.service.process(M[:200])
        await zombie.service.process(M[100:150])
        await owner.service.process(M[200:])
        assert zombie.processed() + owner.processed() == EVENTS

    assert run(stack_config, steps)["events"] == EVENTS


class CrashingLabels(LabelService):
    """Dies in its first judging, before the labels' own save: as a worker SIGKILLed there
    would (the label batch uncommitted, read again by the next one)."""

    crashed = False

    async def _judge(self, *args, **kwargs) -> set[str]:
        if not self.crashed:
            self.crashed = True
            raise Crashed
        return await super()._judge(*args, **kwargs)


def label_service(cls, client, prefix, dlq, worker: CanaryWorker) -> LabelService:
    """A label stage beside ``worker``'s predictions, as a worker wires them."""
    return cls(
        decoder=LabelDecoder(), join=worker.service.label_join, registry=SpecRegistry(specs()),
        config=LABELS, dead_letters=dlq, sink=MemoryAlertSink(),
        store=RedisMonitorStore(client, prefix=prefix, topic="labels", ttl_s=600,
                                namespace="performance"),
        metrics=IngestMetrics(CollectorRegistry()), drift=worker.service.monitor,
        canaries=worker.service.count_labels,
    )  # fmt: skip


def test_labels_of_a_worker_killed_before_their_save_count_once(stack_config):
    # Before: the labels were counted in the canary and saved there before their own save;
    # killed between the two, the next worker read them again and counted them again.
    labels = label_records()

    async def steps(client, prefix, dlq) -> None:
        join = RedisLabelJoin(client, prefix=prefix)
        first = CanaryWorker(client, prefix, dlq)
        first.service.label_join = join
        await first.service.process(M[:200])
        with contextlib.suppress(Crashed):
            await label_service(CrashingLabels, client, prefix, dlq, first).process(labels[:150])
        restarted = CanaryWorker(client, prefix, dlq)
        restarted.service.label_join = join
        await restarted.service.process(M[:])  # its rollout is read with its new events
        await label_service(LabelService, client, prefix, dlq, restarted).process(labels)

    tally = run(stack_config, steps)
    assert (tally["events"], tally["labelled"]) == (EVENTS, EVENTS)


def test_labels_counted_on_a_stale_rollout_are_not_saved_over_the_owners(stack_config):
    # Before: the zombie's label stage wrote its rollout (200 events) over the owner's (300).
    # Now its save is refused: its 150 labels' canary counts are lost (the owner skips the
    # labels the zombie saved), never counted twice, and the owner's events stay.
    labels = label_records()

    async def steps(client, prefix, dlq) -> None:
        join = RedisLabelJoin(client, prefix=prefix)
        zombie, owner = CanaryWorker(client, prefix, dlq), CanaryWorker(client, prefix, dlq)
        zombie.service.label_join = owner.service.label_join = join
        await zombie.service.process(M[:200])
        await owner.service.process(M)
        await label_service(LabelService, client, prefix, dlq, zombie).process(labels[:150])
        assert (await canary_tally(client, prefix))["events"] == EVENTS  # the owner's
        assert zombie.refused() == 1  # its rollout forgotten, read again if it meets m
        await label_service(LabelService, client, prefix, dlq, owner).process(labels)

    tally = run(stack_config, steps)
    assert (tally["events"], tally["labelled"]) == (EVENTS, EVENTS - 150)
