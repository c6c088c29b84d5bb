"""One Redis client for a standalone server or a Redis Cluster, and pipelined scripts on both.

``DRIFTLINE_REDIS_URL`` names a cluster with the scheme ``redis+cluster://`` (or
``rediss+cluster://`` for TLS): any node's address, the rest as for one server (ACL user,
password, ``?ssl_ca_certs=...``). The client is then redis-py's ``RedisCluster``, which finds
the other nodes and follows slot moves and failovers. Every key Driftline writes carries its
model's hash tag (``{M}``), so each script touches one slot and the same code runs on both.

Scripts run by ``EVALSHA`` in a non-transactional pipeline: one round trip per node for a
batch's per-model scripts. A node that lacks a script (restarted, or a replica promoted by a
failover: scripts are not replicated) answers ``NOSCRIPT`` for those calls only, which did
nothing; they are loaded and run again, the others are not.

A standalone server's connections pack commands with hiredis, as redis-py's sync client does
and its asyncio client does not yet (redis/redis-py#4176): the label join's keep of a batch
packs in 0.28 us an event against 0.9 (BENCHMARKS.md, "commands packed by hiredis").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.commands.core import AsyncScript
from redis.connection import HiredisRespSerializer
from redis.exceptions import NoScriptError, ResponseError
from redis.utils import HIREDIS_AVAILABLE

from streams.redis_url import cluster_url

__all__ = ["ScriptCall", "connect", "run_scripts"]


def connect(url: str, **kwargs: Any) -> aioredis.Redis:
    """A client for ``url``: ``RedisCluster`` for a cluster URL, ``Redis`` otherwise."""
    plain = cluster_url(url)
    if plain is None:
        client = aioredis.Redis.from_url(url, **kwargs)
        pool = client.connection_pool  # makes its connections when first asked: none yet
        pool.connection_class = _hiredis_packing(pool.connection_class)
        return client
    # A cluster builds its nodes' connections itself; they keep redis-py's packing.
    # Typed as Redis for the callers: both expose the commands Driftline uses.
    cluster: Any = RedisCluster.from_url(plain, **kwargs)
    return cluster


def _hiredis_packing(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """``connection_class`` packing its commands with hiredis when hiredis can (>= 3.2)."""
    if not HIREDIS_AVAILABLE:
        return connection_class
    serializer = HiredisRespSerializer()  # holds no state: one for every connection

    class HiredisPacking(connection_class):  # type: ignore[valid-type,misc]
        def pack_command(self, *args: Any) -> list[bytes]:
            return serializer.pack(*args)

    HiredisPacking.__name__ = HiredisPacking.__qualname__ = (
        f"HiredisPacking{connection_class.__name__}"
    )
    return HiredisPacking


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One run of a registered script; every key of ``keys`` in one hash slot."""

    script: AsyncScript
    keys: Sequence[Any]
    args: Sequence[Any]


async def run_scripts(client: aioredis.Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    """Run ``calls`` in one pipeline (one round trip per node); their replies, in order.

    Raises the first error other than ``NOSCRIPT`` (redis-py's ``RedisError``s).
    """
    if not calls:
        return []
    async with client.pipeline(transaction=False) as pipe:
        for call in calls:
            # ``execute_command``: redis-py refuses ``pipe.evalsha`` on a cluster, yet routes
            # EVALSHA by its keys like any command (all of one call in one slot).
            pipe.execute_command("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
        replies = list(await pipe.execute(raise_on_error=False))
    for i, (call, reply) in enumerate(zip(calls, replies, strict=True)):
        if _no_script(reply):
            # Loaded on every primary of a cluster; then only this call runs again.
            call.script.sha = await client.script_load(call.script.script)
            replies[i] = await client.evalsha(call.script.sha, len(call.keys), *call.keys,
                                              *call.args)  # fmt: skip
        elif isinstance(reply, Exception):
            raise reply
    return replies


def _no_script(reply: Any) -> bool:
    return isinstance(reply, NoScriptError) or (
        isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT")
    )
