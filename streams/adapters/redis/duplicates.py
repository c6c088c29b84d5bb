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

from streams.adapters.redis.client import ScriptCall, run_scripts
from streams.adapters.redis.keys import model_base
from streams.adapters.redis.scripts import SLICED
from streams.core.contract.event import PredictionEvent
from streams.core.errors import StoreUnavailable

__all__ = ["RedisDuplicates"]

# KEYS: this bucket, the one before; ARGV: expiry (s), then id, position pairs.
# Returns 1 per copy seen before at another position, else 0. One HMGET per bucket and one
# HSET for the new ids (in slices), not three calls per id.
_SEEN = (
    SLICED
    + """
local ids, ats = {}, {}
for i = 2, #ARGV, 2 do
  ids[#ids + 1] = ARGV[i]
  ats[#ats + 1] = ARGV[i + 1]
end
local before, current = hmget_sliced(KEYS[2], ids), hmget_sliced(KEYS[1], ids)
local out, fresh, added = {}, {}, {}
for i = 1, #ids do
  local old = before[i] or current[i] or added[ids[i]]
  if not old then
    added[ids[i]] = ats[i]
    fresh[#fresh + 1] = ids[i]
    fresh[#fresh + 1] = ats[i]
  end
  out[i] = (old and old ~= ats[i]) and 1 or 0
end
hset_sliced(KEYS[1], fresh)
redis.call('EXPIRE', KEYS[1], ARGV[1])
return out
"""
)


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
        return f"{model_base(self.prefix, model_id)}:dup:{bucket}"

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
        calls = []
        for model_id, indices in by_model.items():
            args: list[str | int] = [2 * self.ttl_s]
            for i in indices:
                event, (partition, offset) = events[i], positions[i]
                args += [f"{event.model_version}\0{event.event_id}", f"{partition}:{offset}"]
            keys = [self._key(model_id, bucket), self._key(model_id, bucket - 1)]
            calls.append(ScriptCall(self._seen, keys, args))
        try:
            # One script per model (its keys in its slot), all in one pipeline.
            replies = await run_scripts(self.client, calls)
        except RedisError as exc:
            raise StoreUnavailable(f"looking up duplicate event ids failed: {exc}") from exc
        for indices, reply in zip(by_model.values(), replies, strict=True):
            for i, seen in zip(indices, reply, strict=True):
                flags[i] = bool(seen)
        return flags
