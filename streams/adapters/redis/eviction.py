"""Whether the Redis server may evict Driftline's keys: read once when a worker starts.

With a memory limit and an evicting ``maxmemory-policy`` Redis deletes keys when full,
Driftline's state among them (a model's fence, profile or kept predictions), so that what a
restarted worker reads is partial. The worker saves again what it holds of a model whose
keys are all gone (RELIABILITY finding 35), not a part of them.
"""

from __future__ import annotations

import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["eviction_warning"]

logger = logging.getLogger(__name__)


async def eviction_warning(client: aioredis.Redis) -> str | None:
    """Why Redis may evict Driftline's keys, or None: it will not, or its settings cannot
    be read (``INFO`` is not among the commands ``driftline redis-acl`` grants, and managed
    services may refuse it)."""
    try:
        info: dict[str, Any] = await client.info("memory")
    except RedisError as exc:
        logger.debug("could not read Redis's memory settings: %r", exc)
        return None
    # One server's INFO, or (a cluster) each node's.
    nodes = [info] if "maxmemory_policy" in info else list(info.values())
    for node in nodes:
        if not isinstance(node, dict):
            continue
        limit, policy = node.get("maxmemory", 0), node.get("maxmemory_policy")
        if limit and policy and policy != "noeviction":
            return (f"Redis evicts keys when full (maxmemory {limit} bytes, maxmemory-policy "
                    f"{policy}): Driftline's state may vanish in part, and a restarted worker "
                    "read what is left; set maxmemory-policy noeviction (a full Redis then "
                    "stalls the stream, losing nothing)")  # fmt: skip
    return None
