"""Warm-up slots in Redis, so the model cap holds across every worker of the group.

One sorted set, ``<prefix>:warmups``: member a model id, score the wall-clock second its
warm-up started (the earliest start wins). Per batch, two round trips: ``view`` before the
batch (drop expired slots, read the rest) and ``claim`` after it (take the slots of warm-ups
the batch started, up to the room left beside the registered models, and give back the ones
that ended). The claim is one Lua script, so two workers cannot both take the last slot; a
warm-up that finds no room is refused and its worker drops it. The set expires with the
warm-up timeout when no worker touches it.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.core.errors import StoreUnavailable

__all__ = ["RedisWarmupSlots"]

_CLAIM = """
local deadline = tonumber(ARGV[1])
local room = tonumber(ARGV[2])
local ttl_ms = tonumber(ARGV[3])
local finished = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', deadline)
for i = 1, finished do
  redis.call('ZREM', KEYS[1], ARGV[4 + i])
end
local refused = {}
for i = 5 + finished, #ARGV, 2 do
  local model = ARGV[i]
  if not redis.call('ZSCORE', KEYS[1], model) then
    if redis.call('ZCARD', KEYS[1]) < room then
      redis.call('ZADD', KEYS[1], ARGV[i + 1], model)
    else
      refused[#refused + 1] = model
    end
  end
end
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
end
return refused
"""


class RedisWarmupSlots:
    """The warm-up slots every worker holds, in one sorted set with a timeout."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, timeout_s: float) -> None:
        self.client = client
        self.key = f"{prefix}:warmups"
        self.timeout_s = timeout_s
        self._claim = client.register_script(_CLAIM)

    async def view(self, now: float) -> dict[str, float]:
        """Slots held now (model -> start); expired ones are dropped first."""
        try:
            # Not a transaction: a slot dropped between the two is dropped either way.
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(self.key, "-inf", now - self.timeout_s)
                pipe.zrange(self.key, 0, -1, withscores=True)
                _, held = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.key}: {exc}") from exc
        return {model.decode(): float(started) for model, started in held}

    async def claim(
        self, now: float, *, started: dict[str, float], finished: list[str], room: int
    ) -> list[str]:
        """Take slots for ``started`` warm-ups, give back ``finished`` ones; the refused."""
        args: list[str | float | int] = [
            now - self.timeout_s,
            room,
            int(self.timeout_s * 1000),
            len(finished),
            *finished,
        ]
        for model_id, start in started.items():
            args += [model_id, start]
        try:
            refused = await self._claim(keys=[self.key], args=args)
        except RedisError as exc:
            raise StoreUnavailable(f"could not write {self.key}: {exc}") from exc
        return [model.decode() for model in refused]
