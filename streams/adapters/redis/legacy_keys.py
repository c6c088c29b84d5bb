"""Monitor state stored under the key names of before Redis Cluster support, moved on read.

Old names: ``P:state:M:V``, ``P:profile:M:V``, ``P:reference:M:V`` (no hash tag: in a cluster
they may sit in three slots, so they are read one command each, never in one script). A
version found only there is copied to its new keys with the TTL each had (``NX``: a newer
value that appeared meanwhile wins), then the old keys are deleted. A crash between the two
leaves the old keys to their TTL: the new ones are read first from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

__all__ = ["Legacy", "LegacyKeys"]


@dataclass(frozen=True, slots=True)
class Legacy:
    """A version's values under the old names, with their time to live in ms (-1: none)."""

    keys: tuple[str, str, str]
    values: tuple[bytes | None, bytes | None, list[bytes]]
    ttls_ms: tuple[int, int, int]


class LegacyKeys:
    """The old key names under one prefix (``P``, or ``P:NS`` for a namespaced store)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def keys(self, model_id: str, model_version: str) -> tuple[str, str, str]:
        """State, profile and reference keys of a version, as they were named."""
        suffix, p = f"{model_id}:{model_version}", self.prefix
        return f"{p}:state:{suffix}", f"{p}:profile:{suffix}", f"{p}:reference:{suffix}"

    async def read(
        self, client: aioredis.Redis, model_id: str, model_version: str
    ) -> Legacy | None:
        """The version's old values; None if it has neither state nor profile there."""
        keys = self.keys(model_id, model_version)
        async with client.pipeline(transaction=False) as pipe:
            pipe.get(keys[0])
            pipe.get(keys[1])
            pipe.lrange(keys[2], 0, -1)
            for key in keys:
                pipe.pttl(key)
            state, profile, reference, *ttls = await pipe.execute()
        if state is None and profile is None:
            return None
        return Legacy(keys, (state, profile, list(reference)), (ttls[0], ttls[1], ttls[2]))

    async def adopt(self, client: aioredis.Redis, legacy: Legacy, new: tuple[str, ...]) -> None:
        """Copy ``legacy`` to the ``new`` keys (state, profile, reference), then delete it."""
        state, profile, reference = legacy.values
        async with client.pipeline(transaction=False) as pipe:
            for key, value, ttl in zip(new[:2], (state, profile), legacy.ttls_ms[:2], strict=True):
                if value is not None:
                    pipe.set(key, value, nx=True, **_expiry(ttl))
            if reference and profile is None:
                pipe.rpush(new[2], *reference)
                if legacy.ttls_ms[2] > 0:
                    pipe.pexpire(new[2], legacy.ttls_ms[2])
            await pipe.execute()
        for key in legacy.keys:
            # One command per key: in a cluster the old keys may be in different slots.
            await client.delete(key)


def _expiry(ttl_ms: int) -> dict[str, Any]:
    return {"px": ttl_ms} if ttl_ms > 0 else {}
