"""Each model's rollout state (canary pairs, shadow sums) in Redis: one JSON value per model.

Key (``P`` the prefix, ``M`` the model id): ``P:{M}:canary`` (in the model's hash slot), with
the state TTL. It is
written after the batch's monitor state and offsets (``state_store``'s Lua step), not in
it: a crash between the two loses that batch's canary counts (the verdict waits a little
longer), never counts a batch twice. A value that does not parse or that the core refuses
starts the model's rollout afresh (it is evidence, not an input to anything else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.adapters.redis.keys import model_base
from streams.core.errors import StoreUnavailable
from streams.settings import setting_default

__all__ = ["RedisRolloutStore"]


class RedisRolloutStore:
    def __init__(
        self, client: aioredis.Redis, *, prefix: str, ttl_s: int = setting_default("state_ttl_s")
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s

    def key(self, model_id: str) -> str:
        return f"{model_base(self.prefix, model_id)}:canary"

    async def fetch(self, model_id: str) -> Any:
        """The model's stored state as JSON (None if none; ``orjson.JSONDecodeError`` if it
        does not parse)."""
        key = self.key(model_id)
        try:
            raw = await self.client.get(key)
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {key}: {exc}") from exc
        return None if raw is None else orjson.loads(raw)

    async def save(self, snapshots: Mapping[str, dict[str, Any]]) -> None:
        """Write every model's state in one round trip."""
        if not snapshots:
            return
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for model_id, snapshot in snapshots.items():
                    pipe.set(self.key(model_id), orjson.dumps(snapshot), ex=self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"could not write the canary state: {exc}") from exc
