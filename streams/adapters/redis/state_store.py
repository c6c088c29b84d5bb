"""Monitor state in Redis, written with the last applied offsets in one atomic step.

Keys (``P`` the prefix, ``M:V`` model and version, ``T`` the input topic):

- ``P:state:M:V``      the monitor's small per-batch snapshot (JSON), with a TTL
- ``P:profile:M:V``    its reference profile (JSON), once built, with a TTL
- ``P:reference:M:V``  reference chunks gathered so far (list of JSON), until the profile exists
- ``P:offsets:T``      hash partition -> last applied offset
- ``P:sources:T``      hash ``partition|source topic|source partition`` -> last applied
  source offset, for the records a worker reads from its by-model topic (``T`` then):
  a re-forwarded copy has a new offset in ``T`` but its old source offset

A stored value that does not parse, or that the core refuses (``InvalidState``), is moved
aside by ``quarantine`` to ``<key>:quarantined:<unix seconds>`` (RENAME, with the TTL), so
the monitor starts fresh and a restart does not meet it again; it is never loaded as code.

One Lua script per batch checks that no stored offset of the batch's partitions is at or past
the batch's own (else another worker got ahead: a stale writer after a rebalance) and only
then writes every snapshot, profile, reference chunk, offset and source offset, and deletes
the state and reference chunks of retired versions (the version cap): all or nothing. A
retired version's profile is left to its TTL (a registered one, which has none, stays): if
the version comes back it starts from its profile with fresh windows.

The reference chunks are raw values (tens of KB per version); they are deleted as soon as a
profile exists, whichever way it came: built by the monitor (in the same script; the chunks
of the batch that completed it are not pushed), registered from training data
(``register_profile``), or found beside one when a monitor is loaded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.core.errors import InvalidState, StoreUnavailable
from streams.settings import setting_default

__all__ = [
    "MonitorUpdate",
    "Quarantined",
    "RawMonitor",
    "RedisMonitorStore",
    "StoredMonitor",
    "register_profile",
]

# Renames each existing key of KEYS[2i-1] to KEYS[2i] and gives it the TTL: all or nothing.
_QUARANTINE = """
local moved = {}
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 1])
    redis.call('EXPIRE', KEYS[i + 1], tonumber(ARGV[1]))
    table.insert(moved, KEYS[i])
  end
end
return moved
"""

_SAVE = """
local ttl = tonumber(ARGV[1])
local partitions = tonumber(ARGV[2])
for i = 1, partitions do
  local stored = redis.call('HGET', KEYS[1], ARGV[2 + 2 * i - 1])
  if stored and tonumber(stored) >= tonumber(ARGV[2 + 2 * i]) then
    return 0
  end
end
local arg = 3 + 2 * partitions
local sources = tonumber(ARGV[arg])
local first_source = arg + 1
arg = arg + 1 + 2 * sources
local updates = tonumber(ARGV[arg])
arg = arg + 1
for k = 3, 2 + 3 * updates, 3 do
  redis.call('SET', KEYS[k], ARGV[arg], 'EX', ttl)
  local chunks = tonumber(ARGV[arg + 2])
  if ARGV[arg + 1] ~= '' then
    -- The profile holds the reference, this batch's last chunks included: drop the chunks.
    redis.call('SET', KEYS[k + 1], ARGV[arg + 1], 'EX', ttl)
    redis.call('DEL', KEYS[k + 2])
  else
    for c = 1, chunks do
      redis.call('RPUSH', KEYS[k + 2], ARGV[arg + 2 + c])
    end
    if chunks > 0 then
      redis.call('EXPIRE', KEYS[k + 2], ttl)
    end
  end
  arg = arg + 3 + chunks
end
for k = 3 + 3 * updates, #KEYS do
  redis.call('DEL', KEYS[k])
end
for i = 1, partitions do
  redis.call('HSET', KEYS[1], ARGV[2 + 2 * i - 1], ARGV[2 + 2 * i])
end
for i = 0, sources - 1 do
  redis.call('HSET', KEYS[2], ARGV[first_source + 2 * i], ARGV[first_source + 2 * i + 1])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class StoredMonitor:
    """A monitor's stored state; ``snapshot`` is None for a profile registered up front."""

    snapshot: dict[str, Any] | None
    profile: dict[str, Any] | None
    reference: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RawMonitor:
    """A model version's stored values as Redis returned them, not yet parsed."""

    state: bytes | None
    profile: bytes | None
    reference: list[bytes]

    def parse(self) -> StoredMonitor:
        """The values as JSON; ``InvalidState`` (naming the key kind, never the bytes) if
        one is not a JSON object."""
        return StoredMonitor(
            snapshot=None if self.state is None else _json_object(self.state, "state"),
            profile=None if self.profile is None else _json_object(self.profile, "profile"),
            reference=[_json_object(chunk, "reference") for chunk in self.reference],
        )


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A key moved aside: its kind (a bounded label value), old and new names."""

    kind: str
    key: str
    moved_to: str


@dataclass(frozen=True, slots=True)
class MonitorUpdate:
    """What one batch changed for one model version."""

    model_id: str
    model_version: str
    snapshot: dict[str, Any]
    profile: dict[str, Any] | None
    reference: list[dict[str, Any]]


class RedisMonitorStore:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        topic: str,
        ttl_s: int = setting_default("state_ttl_s"),
        namespace: str | None = None,
    ) -> None:
        """``namespace`` keeps another kind of state apart: ``P:NS:state:M:V``."""
        self.client = client
        self.prefix = prefix if namespace is None else f"{prefix}:{namespace}"
        self.offsets_key = f"{prefix}:offsets:{topic}"
        self.sources_key = f"{prefix}:sources:{topic}"
        self.ttl_s = ttl_s
        #: What this store's state key holds, as the quarantine counter's ``kind``.
        self.state_kind = "state" if namespace is None else namespace
        self._save = client.register_script(_SAVE)
        self._quarantine = client.register_script(_QUARANTINE)

    def _keys(self, model_id: str, model_version: str) -> tuple[str, str, str]:
        suffix = f"{model_id}:{model_version}"
        p = self.prefix
        return f"{p}:state:{suffix}", f"{p}:profile:{suffix}", f"{p}:reference:{suffix}"

    async def applied_offsets(self, partitions: Iterable[int]) -> dict[int, int]:
        """Last applied offset of each partition that has one."""
        partitions = list(partitions)
        try:
            values = await self.client.hmget(self.offsets_key, [str(p) for p in partitions])
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.offsets_key}: {exc}") from exc
        return {p: int(v) for p, v in zip(partitions, values, strict=True) if v is not None}

    async def applied_sources(self) -> dict[tuple[int, str, int], int]:
        """Last applied source offset per ``(partition, source topic, source partition)``."""
        try:
            values = await self.client.hgetall(self.sources_key)
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.sources_key}: {exc}") from exc
        applied = {}
        for field_, value in values.items():
            # Kafka topic names cannot hold "|".
            name = field_.decode() if isinstance(field_, bytes) else field_
            partition, topic, source_partition = name.split("|")
            applied[int(partition), topic, int(source_partition)] = int(value)
        return applied

    async def fetch(
        self, model_id: str, model_version: str, *, tidy: bool = True
    ) -> RawMonitor | None:
        """The stored values, unparsed (parsing is the caller's, so that a malformed value
        is quarantined rather than retried as if Redis had failed); None if there are none.
        ``tidy=False`` only reads (a reader that does not own the state, the live report)."""
        state, profile, reference = self._keys(model_id, model_version)
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.get(state)
                pipe.get(profile)
                pipe.lrange(reference, 0, -1)
                raw_state, raw_profile, raw_reference = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {state}: {exc}") from exc
        if raw_state is None and raw_profile is None:
            return None
        if raw_profile is not None and raw_reference:
            # Left from before the profile existed; never read once it does.
            if tidy:
                await self._delete(reference)
            raw_reference = []
        return RawMonitor(raw_state, raw_profile, list(raw_reference))

    async def fetch_profile(self, model_id: str, model_version: str) -> bytes | str | None:
        """The stored profile of a model version, unparsed; None if there is none."""
        _, profile, _ = self._keys(model_id, model_version)
        try:
            raw: bytes | str | None = await self.client.get(profile)
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {profile}: {exc}") from exc
        return raw

    async def quarantine(self, model_id: str, model_version: str) -> list[Quarantined]:
        """Move every stored key of this model version aside, to
        ``<key>:quarantined:<unix seconds>`` with the TTL; return those that existed."""
        stamp = int(time.time())
        kinds = dict(zip(self._keys(model_id, model_version),
                         (self.state_kind, "profile", "reference"), strict=True))  # fmt: skip
        keys = [name for key in kinds for name in (key, f"{key}:quarantined:{stamp}")]
        try:
            moved = await self._quarantine(keys=keys, args=[self.ttl_s])
        except RedisError as exc:
            raise StoreUnavailable(
                f"could not quarantine {model_id}:{model_version}: {exc}"
            ) from exc
        names = [m.decode() if isinstance(m, bytes) else m for m in moved]
        return [Quarantined(kinds[n], n, f"{n}:quarantined:{stamp}") for n in names]

    async def register_profile(self, profile: dict[str, Any]) -> None:
        """Store a profile from training data (no TTL): the version's monitor starts from it."""
        _, key, reference = self._keys(profile["model_id"], profile["model_version"])
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(key, orjson.dumps(profile))
                pipe.delete(reference)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"could not write {key}: {exc}") from exc

    async def _delete(self, key: str) -> None:
        try:
            await self.client.delete(key)
        except RedisError as exc:
            raise StoreUnavailable(f"could not delete {key}: {exc}") from exc

    async def save(
        self,
        updates: list[MonitorUpdate],
        offsets: dict[int, int],
        retired: Iterable[tuple[str, str]] = (),
        sources: dict[tuple[int, str, int], int] | None = None,
    ) -> bool:
        """Write ``updates``, ``offsets`` and ``sources`` (source offsets, as
        ``applied_sources`` reads them) and delete the state of ``retired`` versions
        atomically; False (nothing written) if a stored offset is ahead."""
        keys = [self.offsets_key, self.sources_key]
        args: list[Any] = [self.ttl_s, len(offsets)]
        for partition, offset in offsets.items():
            args += [partition, offset]
        sources = sources or {}
        args.append(len(sources))
        for (partition, topic, source_partition), offset in sources.items():
            args += [f"{partition}|{topic}|{source_partition}", offset]
        args.append(len(updates))
        for update in updates:
            keys += self._keys(update.model_id, update.model_version)
            args += [
                orjson.dumps(update.snapshot),
                b"" if update.profile is None else orjson.dumps(update.profile),
                len(update.reference),
                *(orjson.dumps(chunk) for chunk in update.reference),
            ]
        for model_id, model_version in retired:
            state, _, reference = self._keys(model_id, model_version)
            keys += [state, reference]
        try:
            return bool(await self._save(keys=keys, args=args))
        except RedisError as exc:
            raise StoreUnavailable(f"could not write monitor state: {exc}") from exc


def register_profile(redis_url: str, prefix: str, profile: dict[str, Any]) -> None:
    """Store ``profile`` from outside a worker (the CLI), with a client of its own."""

    async def register() -> None:
        client = aioredis.Redis.from_url(redis_url, socket_timeout=5)
        try:
            # The topic only names the offsets key, which this does not touch.
            await RedisMonitorStore(client, prefix=prefix, topic="").register_profile(profile)
        finally:
            await client.aclose()

    asyncio.run(register())


def _json_object(raw: bytes, kind: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson's message may quote the bytes: say only what is wrong.
        raise InvalidState(f"stored {kind} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidState(f"stored {kind} is not a JSON object")
    return value
