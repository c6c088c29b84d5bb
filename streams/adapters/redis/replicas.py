"""A batch acknowledged only once Redis's replicas hold what it wrote.

Redis replicates asynchronously: a primary that dies right after a write may hand over to a
replica without it. The worker's next save carries its state again (the fences only move
forward), but a worker that also dies in that window, after Kafka took its commit, would
reload the replica's older state and never see the events between the two again. With
``DRIFTLINE_REDIS_REPLICAS`` set, each batch ends with ``WAIT``: the batch is acked (and its
offsets later committed) only once that many replicas acknowledged every write before it.

``WAIT`` waits for the writes of its own connection, so the barrier first writes one small
key on that connection: the replication stream is one ordered log, so a replica that
has this write has every write the batch made before it, on any connection. Not for Redis
Cluster, where each primary replicates apart (``Settings`` refuses the two together).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from streams.adapters.durable import DurableWriter
from streams.core.errors import StoreUnavailable

__all__ = ["ReplicaBarrier", "after_each_batch"]


class ReplicaBarrier:
    """``wait()`` returns once ``replicas`` replicas hold every write made before the call;
    it raises ``StoreUnavailable`` (retriable) when fewer acknowledge within ``timeout_ms``."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str, replicas: int, timeout_ms: int
    ) -> None:
        if replicas < 1 or timeout_ms < 1:
            raise ValueError("a replica barrier needs replicas >= 1 and timeout_ms >= 1")
        self.client = client
        self.key = f"{prefix}:replicated"
        self.replicas = replicas
        self.timeout_ms = timeout_ms

    async def wait(self) -> None:
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.set(self.key, b"1")  # a write of this connection, after the batch's
                pipe.wait(self.replicas, self.timeout_ms)
                _, acknowledged = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"waiting for Redis's replicas failed: {exc}") from exc
        if acknowledged < self.replicas:
            # Retriable: the batch stays unacked and the barrier is asked again (a later
            # write of its own) until the replicas catch up.
            raise StoreUnavailable(
                f"{acknowledged} of the {self.replicas} Redis replicas wanted acknowledged the "
                f"batch's writes within {self.timeout_ms} ms"
            ) from TimeoutError("WAIT")


def after_each_batch(
    barrier: ReplicaBarrier | None, writer: DurableWriter
) -> Callable[[], Awaitable[None]]:
    """What a monitoring agent awaits after each batch, before its ack: ``barrier``'s wait,
    retried like any Redis write (counted, one log line per outage); nothing without one."""

    async def wait() -> None:
        if barrier is not None:
            await writer.until_done("redis", barrier.wait)

    return wait
