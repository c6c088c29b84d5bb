"""A batch acknowledged only once Redis's replicas hold what it wrote.

Redis replicates asynchronously: a primary that dies right after a write may hand over to a
replica without it. The worker's next save carries its state again (the fences only move
forward), but a worker that also dies in that window, after Kafka took its commit, would
reload the replica's older state and never see the events between the two again. With
``DRIFTLINE_REDIS_REPLICAS`` set, each batch ends with ``WAIT``: the batch is acked (and its
offsets later committed) only once that many replicas acknowledged every write before it.

``WAIT`` waits for the writes of its own connection, so the barrier first writes one small
key on that connection: the replication stream is one ordered log, so a replica that
has this write has every write the batch made before it, on any connection. A Redis Cluster
has one log per primary: the barrier writes and waits on each primary at once, on a
connection of its own to it, with a key of a slot that primary serves, and counts the
fewest replicas any of them reached.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis import asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisError

from streams.adapters.durable import DurableWriter
from streams.core.errors import StoreUnavailable

__all__ = ["ReplicaBarrier", "after_each_batch"]

#: Names tried for a key a primary serves: each of the 16,384 slots is met with odds of
#: 1 - 5e-6 (a second, once per change of the cluster's primaries, for a primary with none).
_KEYS_TRIED = 200_000


class ReplicaBarrier:
    """``wait()`` returns once ``replicas`` replicas hold every write made before the call
    (on a cluster: of each primary); it raises ``StoreUnavailable`` (retriable) when fewer
    acknowledge within ``timeout_ms``."""

    def __init__(
        self, client: aioredis.Redis, *, prefix: str, replicas: int, timeout_ms: int
    ) -> None:
        if replicas < 1 or timeout_ms < 1:
            raise ValueError("a replica barrier needs replicas >= 1 and timeout_ms >= 1")
        self.client = client
        self.prefix = prefix
        self.key = f"{prefix}:replicated"
        self.replicas = replicas
        self.timeout_ms = timeout_ms
        # A cluster's primaries by name: a client of its own to each and a key it serves
        # (None for a primary that serves no slot).
        self._primaries: dict[str, tuple[aioredis.Redis, str] | None] = {}

    async def wait(self) -> None:
        try:
            if isinstance(self.client, RedisCluster):
                acknowledged = await self._wait_on_primaries(self.client)
            else:
                acknowledged = await self._wait_on(self.client, self.key)
        except RedisError as exc:
            await self._forget_primaries()  # the cluster's map may have moved: read it again
            raise StoreUnavailable(f"waiting for Redis's replicas failed: {exc}") from exc
        if acknowledged < self.replicas:
            # Retriable: the batch stays unacked and the barrier is asked again (a later
            # write of its own) until the replicas catch up.
            raise StoreUnavailable(
                f"{acknowledged} of the {self.replicas} Redis replicas wanted acknowledged the "
                f"batch's writes within {self.timeout_ms} ms"
            ) from TimeoutError("WAIT")

    async def close(self) -> None:
        """Close the connections to a cluster's primaries (a server's is the worker's)."""
        await self._forget_primaries()

    async def _wait_on(self, client: aioredis.Redis, key: str) -> int:
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(key, b"1")  # a write of this connection, after the batch's
            pipe.wait(self.replicas, self.timeout_ms)
            _, acknowledged = await pipe.execute()
        return int(acknowledged)

    async def _wait_on_primaries(self, cluster: RedisCluster) -> int:
        serving = []
        for node in cluster.get_primaries():
            if node.name not in self._primaries:
                key = self._key_served_by(cluster, node)
                # A primary with no slots holds none of the batch's writes: none to wait on.
                self._primaries[node.name] = None if key is None else (_client_of(node), key)
            primary = self._primaries[node.name]
            if primary is not None:
                serving.append(primary)
        return min(await asyncio.gather(*(self._wait_on(*primary) for primary in serving)))

    def _key_served_by(self, cluster: RedisCluster, node: ClusterNode) -> str | None:
        """A key of a slot ``node`` serves (None if it serves none): the first name of a
        numbered few that hashes to one (a node with a third of the slots: ~3 tries)."""
        for attempt in range(_KEYS_TRIED):
            key = f"{self.prefix}:{{replicated-{attempt}}}"
            owner = cluster.get_node_from_key(key)
            if owner is not None and owner.name == node.name:
                return key
        return None

    async def _forget_primaries(self) -> None:
        primaries, self._primaries = self._primaries, {}
        for primary in primaries.values():
            if primary is not None:
                await primary[0].aclose()


def after_each_batch(
    barrier: ReplicaBarrier | None, writer: DurableWriter
) -> Callable[[], Awaitable[None]]:
    """What a monitoring agent awaits after each batch, before its ack: ``barrier``'s wait,
    retried like any Redis write (counted, one log line per outage); nothing without one."""

    async def wait() -> None:
        if barrier is not None:
            await writer.until_done("redis", barrier.wait)

    return wait


def _client_of(node: ClusterNode) -> aioredis.Redis:
    """A client of one cluster node, connected as the cluster's own connections to it are
    (user, password, TLS)."""
    pool = aioredis.ConnectionPool(connection_class=node.connection_class,
                                   **node.connection_kwargs)  # fmt: skip
    return aioredis.Redis(connection_pool=pool)
