"""Each model's rollout state (canary pairs, shadow sums) in Redis: one JSON value per model.

Key (``P`` the prefix, ``M`` the model id): ``P:{M}:canary`` (in the model's hash slot), with
the state TTL. It is written by the model's fenced save (``state_store``'s SAVE script), in
the same atomic step as the monitor state whose events it counts: a worker whose save is
refused (another saved the model since) writes neither. A value that does not parse or that
the core refuses starts the model's rollout afresh (it is evidence, not an input to
anything else).
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.adapters.redis.keys import canary_key
from streams.core.errors import StoreUnavailable

__all__ = ["RedisRolloutStore"]


class RedisRolloutStore:
    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def key(self, model_id: str) -> str:
        return canary_key(self.prefix, model_id)

    async def fetch(self, model_id: str) -> Any:
        """The model's stored state as JSON (None if none; ``orjson.JSONDecodeError`` if it
        does not parse)."""
        key = self.key(model_id)
        try:
            raw = await self.client.get(key)
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {key}: {exc}") from exc
        return None if raw is None else orjson.loads(raw)
