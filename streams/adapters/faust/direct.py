"""The wiring of direct routing (``streams/adapters/kafka/direct_routing.py``'s ``DirectRoute``):
where a predictions partition's roads are kept, its high-water mark, and the wait for the
copies before a partition's first direct records."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import faust
from faust.types import TP

from streams.adapters.faust.batch_app import BatchApp
from streams.adapters.faust.services import WorkerServices
from streams.adapters.kafka.direct_routing import DirectRoute
from streams.adapters.kafka.producer import KafkaProducer
from streams.adapters.kafka.routing import Router
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core.contract.event import RawRecord
from streams.core.errors import StoreUnavailable
from streams.settings import Settings

__all__ = ["direct_route", "forget_roads_at_rebalance", "highwater"]

logger = logging.getLogger(__name__)


def direct_route(
    app: BatchApp,
    settings: Settings,
    producer: KafkaProducer,
    services: WorkerServices,
    source: faust.TopicT,
    process: Callable[[list[RawRecord]], Coroutine[Any, Any, None]],
) -> DirectRoute | None:
    """Predictions on their model's partition, applied where they are read when their
    partition's roads say so; ``DRIFTLINE_ROUTING=direct`` claims the road for the records
    to come. Labels are always copied."""
    name = source.get_topic_name()
    if name != settings.topic_predictions:
        return None
    copies = _copies_applied(app, services.ingestion.store, settings.predictions_by_model,
                             settings.stall_s)  # fmt: skip
    return DirectRoute(
        process,
        functools.partial(producer.partition_count, name),
        services.roads,
        lambda partition: highwater(app, TP(name, partition)),
        copies,
        services.ingestion.applied.move_past,
        claim_direct=settings.routing == "direct",
    )


def _copies_applied(
    app: BatchApp, store: RedisMonitorStore, by_model: str, timeout_s: float
) -> Callable[[int], Awaitable[None]]:
    """Wait until every record now on by-model partition ``p`` is applied (its low-water
    mark in Redis reaches the partition's end), for at most ``timeout_s`` and not into a
    rebalance (which waits for the chunk in hand, and stops the agent that would apply the
    copies): a model's records keep their order where the roads change to direct. When the
    wait is cut short they may not, but nothing is lost or applied twice either way."""

    async def wait(partition: int) -> None:
        tp = TP(by_model, partition)
        try:
            last = (await app.consumer.highwaters(tp)).get(tp, 0) - 1
        except Exception as exc:  # a broker outage must not stop the routing agent
            logger.warning("could not read the end of by-model partition %d (%r): records "
                           "routed direct now may be applied before its copies", partition,
                           exc)  # fmt: skip
            return
        deadline, rebalances = time.monotonic() + timeout_s, app.rebalancing_count
        with app.waiting_for_copies():
            while last >= 0 and time.monotonic() < deadline:
                if app.rebalancing or app.rebalancing_count != rebalances:
                    return
                with contextlib.suppress(StoreUnavailable):
                    if (await store.applied_offsets([partition])).get(partition, -1) >= last:
                        return
                await asyncio.sleep(_COPIES_POLL_S)
        if last >= 0:
            logger.warning("by-model partition %d still had copies to apply after %.0f s: "
                           "records routed direct now may be applied before them", partition,
                           timeout_s)  # fmt: skip

    return wait


_COPIES_POLL_S = 0.05


def forget_roads_at_rebalance(app: BatchApp, router: Router) -> None:
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # typed (sender, *args)
    async def forget_roads(sender: faust.App, revoked: set[TP], **kwargs: object) -> None:
        router.forget()


def highwater(app: BatchApp, tp: TP) -> int | None:
    # What the consumer learnt from its last fetch: no broker round trip.
    try:
        return app.consumer.highwater(tp)
    except Exception:  # aiokafka asserts the partition is assigned; mid-rebalance it is not
        return None
