"""Duplicate event ids in Redis: the worker's side of ``streams.core.contract.duplicates``.

Per model, the ids of a time bucket (``ttl_s`` long, wall clock) are one hash
``<prefix>:{<model id>}:dup:<bucket>`` (the model's hash tag: every key of a model in one
cluster slot), field ``<version> NUL <event id>``, value the record's position. An id is
looked up in this bucket and the one before, so a copy within ``ttl_s`` is always caught,
and a bucket expires ``2 * ttl_s`` after its last write: memory is bounded by the ids of
two TTLs. One script per model of the batch, all in one pipeline: one round trip per batch.
The same id at the same position is the same record read again (a batch replayed after a
crash), never a duplicate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.core.contract.event import PredictionEvent
from streams.core.errors import StoreUnavailable

__all__ = ["RedisDuplicates"]

# KEYS: this bucket, the one before; ARGV: expiry (s), then id, position pairs.
# Returns 1 per copy seen before at another position, else 0.
_SEEN = """
local out = {}
for i = 2, #ARGV, 2 do
  local id, at = ARGV[i], ARGV[i + 1]
  local old = redis.call('HGET', KEYS[2], id) or redis.call('HGET', KEYS[1], id)
  if not old then redis.call('HSET', KEYS[1], id, at) end
  out[#out + 1] = (old and old ~= at) and 1 or 0
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return out
"""


class RedisDuplicates:
    """Which events of a batch are copies of one seen within ``ttl_s`` seconds."""

    def __init__(self, client: aioredis.Redis, *, prefix: str, ttl_s: int) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._seen = client.register_script(_SEEN)

    def _key(self, model_id: str, bucket: int) -> str:
        return f"{self.prefix}:{{{model_id}}}:dup:{bucket}"

    async def duplicates(
        self,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
        *,
        now_s: float,
    ) -> list[bool]:
        """Whether each event is a copy (remembering the others), in one round trip."""
        by_model: dict[str, list[int]] = defaultdict(list)
        for i, event in enumerate(events):
            by_model[event.model_id].append(i)
        if not by_model:
            return []
        bucket = int(now_s // self.ttl_s)
        flags = [False] * len(events)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for model_id, indices in by_model.items():
                    args: list[str | int] = [2 * self.ttl_s]
                    for i in indices:
                        event, (partition, offset) = events[i], positions[i]
                        args += [
                            f"{event.model_version}\0{event.event_id}",
                            f"{partition}:{offset}",
                        ]
                    keys = [self._key(model_id, bucket), self._key(model_id, bucket - 1)]
                    await self._seen(keys=keys, args=args, client=pipe)
                replies = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"looking up duplicate event ids failed: {exc}") from exc
        for indices, reply in zip(by_model.values(), replies, strict=True):
            for i, seen in zip(indices, reply, strict=True):
                flags[i] = bool(seen)
        return flags
