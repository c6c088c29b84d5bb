"""Monitor state in Redis, written with the last applied offsets in one atomic step.

Keys (``P`` the prefix, ``M:V`` model and version, ``T`` the input topic). ``{M}`` is a hash
tag: every key of one model, all its versions, shares one Redis Cluster slot, so one script
may touch them all (``streams/adapters/redis/client.py``):

- ``P:{M}:state:V``      the monitor's small per-batch snapshot (JSON), with a TTL
- ``P:{M}:profile:V``    its reference profile (JSON), once built, with a TTL
- ``P:{M}:reference:V``  reference chunks gathered so far (list of JSON), until the profile exists
- ``P:{M}:offsets:T``    the model's fence: hash partition -> last offset applied to its state
- ``P:{M}:sources:T``    hash ``partition|source topic|source partition`` -> last applied
  source offset, for the records a worker reads from its by-model topic (``T`` then):
  a re-forwarded copy has a new offset in ``T`` but its old source offset
- ``P:{M}:written:T``    the token of the model's last save, with a TTL: a save retried after
  its reply was lost (the server ran it) finds its own token, not a fence ahead
- ``P:{M}:canary``       the model's rollout state (``rollout_store``), written by the save of
  the prediction state whose events it counts
- ``P:offsets:T``, ``P:sources:T``  low-water marks: every model has applied the partition up
  to there (raised, never lowered, after all of a batch's models are saved); records at or
  below them are skipped before decoding, the rest by their own model's fence after

A store with a namespace (``NS``, the performance monitors) puts it before the kind:
``P:{M}:NS:state:V``.

Before Redis Cluster support the keys were ``P:state:M:V``, ``P:profile:M:V`` and
``P:reference:M:V`` with one fence per topic, ``P:offsets:T``: the fence is the low-water mark
now (it covers every model, as it did), and a version found only under the old names is
copied to the new ones on its first read (then the old keys are deleted).

A stored value that does not parse, or that the core refuses (``InvalidState``), is moved
aside by ``quarantine`` to ``<key>:quarantined:<unix seconds>`` (RENAME, with the TTL), so
the monitor starts fresh and a restart does not meet it again; it is never loaded as code.

Per batch, one Lua script per model (all pipelined: one round trip per Redis node) checks that
the model's last save is the one the writer read (its token, compare and set: else another
worker saved the model since, and the writer's state is stale: a worker paused past a
rebalance, or the new owner that read before the paused one woke) and only then writes that
model's snapshots, profiles, reference chunks, rollout state, fence and source offsets (raised,
never lowered), and deletes the state and reference chunks of its retired versions (the version
cap): all or nothing per model. A retired version's profile is left to its TTL (a registered
one, which has none, stays): if the version comes back it starts from its profile with fresh
windows.

The reference chunks are raw values (tens of KB per version); they are deleted as soon as a
profile exists, whichever way it came: built by the monitor (in the same script; the chunks
of the batch that completed it are not pushed), registered from training data
(``register_profile``), or found beside one when a monitor is loaded.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.adapters.redis import scripts
from streams.adapters.redis.client import ScriptCall, connect, run_scripts
from streams.adapters.redis.keys import (
    canary_key,
    fence_keys,
    model_base,
    parse_offsets,
    parse_sources,
    source_field,
)
from streams.adapters.redis.legacy_keys import LegacyKeys
from streams.adapters.redis.stored_values import MonitorUpdate, Quarantined, RawMonitor
from streams.core.errors import StoreUnavailable
from streams.settings import setting_default

__all__ = ["RedisMonitorStore", "Refused", "register_profile"]


# The SAVE script's refusals: another save since the expected one, or no save at all.
_OVERTAKEN, _GONE = 0, 2


class Refused(set[str]):
    """The models a save refused. ``gone``: those of them whose keys had vanished (Redis
    lost them, or they expired) where a save was expected; the rest were saved by another
    worker since."""

    def __init__(self, overtaken: Iterable[str] = (), *, gone: Iterable[str] = ()) -> None:
        self.gone = frozenset(gone)
        super().__init__(overtaken)
        self.update(self.gone)


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
        """``namespace`` keeps another kind of state apart: ``P:{M}:NS:state:V``."""
        self.client = client
        self.prefix = prefix
        self.topic = topic
        self.namespace = "" if namespace is None else f"{namespace}:"
        self.legacy = LegacyKeys(prefix if namespace is None else f"{prefix}:{namespace}")
        self.offsets_key = f"{prefix}:offsets:{topic}"
        self.sources_key = f"{prefix}:sources:{topic}"
        self.ttl_s = ttl_s
        #: What this store's state key holds, as the quarantine counter's ``kind``.
        self.state_kind = "state" if namespace is None else namespace
        self._scripts = {name: client.register_script(getattr(scripts, name))
                         for name in scripts.__all__}  # fmt: skip

    def model_base(self, model_id: str) -> str:
        """``P:{M}``: the start of every key of ``model_id`` (its hash tag)."""
        return model_base(self.prefix, model_id)

    def _keys(self, model_id: str, model_version: str) -> tuple[str, str, str]:
        base = f"{self.model_base(model_id)}:{self.namespace}"
        return (f"{base}state:{model_version}", f"{base}profile:{model_version}",
                f"{base}reference:{model_version}")  # fmt: skip

    def fence_keys(self, model_id: str) -> tuple[str, str]:
        """The model's fence: its applied offsets and source offsets for this topic."""
        return fence_keys(self.prefix, model_id, self.topic)

    def written_key(self, model_id: str) -> str:
        """The token of the model's last save (``save``'s ``token``)."""
        return f"{self.model_base(model_id)}:written:{self.topic}"

    async def applied_offsets(self, partitions: Iterable[int]) -> dict[int, int]:
        """Low-water mark of each partition that has one: every model applied it so far."""
        partitions = list(partitions)
        try:
            values = await self.client.hmget(self.offsets_key, [str(p) for p in partitions])
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.offsets_key}: {exc}") from exc
        stored: dict[bytes | str, bytes | str | int] = {
            str(p): v for p, v in zip(partitions, values, strict=True) if v is not None
        }
        return parse_offsets(self.offsets_key, stored)

    async def applied_sources(self) -> dict[tuple[int, str, int], int]:
        """Low-water source offset per ``(partition, source topic, source partition)``."""
        try:
            return parse_sources(self.sources_key, await self.client.hgetall(self.sources_key))
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.sources_key}: {exc}") from exc

    async def model_fences(
        self, models: Iterable[str]
    ) -> dict[str, tuple[dict[int, int], dict[tuple[int, str, int], int], str]]:
        """Each model's fence: applied offsets per partition, source offsets, and the token
        of its last save ('' if none), which a ``save`` built on this state expects; one
        round trip per node for all of them."""
        models = list(models)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for model_id in models:
                    # The token first: another worker's save may run between these reads,
                    # and a token older than the fence only makes the next save refused
                    # (a newer one would let it pass over records it did not skip).
                    pipe.get(self.written_key(model_id))
                    offsets, sources = self.fence_keys(model_id)
                    pipe.hgetall(offsets)
                    pipe.hgetall(sources)
                replies = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"could not read the fences of {len(models)} models: {exc}"
                                   ) from exc  # fmt: skip
        fences = {}
        for i, model_id in enumerate(models):
            offsets, sources = self.fence_keys(model_id)
            token, applied, by_source = replies[3 * i : 3 * i + 3]
            fences[model_id] = (parse_offsets(offsets, applied),
                                parse_sources(sources, by_source), _text(token))  # fmt: skip
        return fences

    async def last_saves(self, models: Iterable[str]) -> dict[str, str]:
        """The token of each model's last save ('' if none); one round trip per node."""
        models = list(models)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for model_id in models:
                    pipe.get(self.written_key(model_id))
                replies = await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"could not read the last saves of {len(models)} models: "
                                   f"{exc}") from exc  # fmt: skip
        return {model_id: _text(reply) for model_id, reply in zip(models, replies, strict=True)}

    async def fetch(
        self, model_id: str, model_version: str, *, tidy: bool = True
    ) -> RawMonitor | None:
        """The stored values, unparsed (parsing is the caller's, so that a malformed value
        is quarantined rather than retried as if Redis had failed); None if there are none.
        ``tidy=False`` only reads (a reader that does not own the state, the live report).
        A version stored under the keys of before (``LegacyKeys``) is moved to the new ones
        when ``tidy``."""
        keys = self._keys(model_id, model_version)
        try:
            raw_state, raw_profile, raw_reference = await self._scripts["FETCH"](keys=keys)
            if raw_state is None and raw_profile is None:
                legacy = await self.legacy.read(self.client, model_id, model_version)
                if legacy is None:
                    return None
                raw_state, raw_profile, raw_reference = legacy.values
                if tidy:
                    await self.legacy.adopt(self.client, legacy, keys)
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {keys[0]}: {exc}") from exc
        if raw_profile is not None and raw_reference:
            # Left from before the profile existed; never read once it does.
            if tidy:
                await self._delete(keys[2])
            raw_reference = []
        return RawMonitor(raw_state, raw_profile, list(raw_reference))

    async def fetch_profile(self, model_id: str, model_version: str) -> bytes | str | None:
        """The stored profile of a model version, unparsed; None if there is none."""
        _, profile, _ = self._keys(model_id, model_version)
        try:
            raw: bytes | str | None = await self.client.get(profile)
            if raw is None:
                raw = await self.client.get(self.legacy.keys(model_id, model_version)[1])
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
            moved = await self._scripts["QUARANTINE"](keys=keys, args=[self.ttl_s])
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
            await self._scripts["REGISTER"](keys=[key, reference], args=[orjson.dumps(profile)])
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
        token: str | None = None,
        expected: Mapping[str, str] | None = None,
        rollouts: Mapping[str, dict[str, Any]] | None = None,
        *,
        raise_marks: bool = True,
    ) -> Refused:
        """Write each model's ``updates`` and ``rollouts`` (its rollout state, where it
        changed) with ``offsets`` and ``sources`` (source offsets, as ``applied_sources``
        reads them) as its fence, and delete the state of ``retired`` versions, atomically
        per model; the models refused (each left as it was): those whose last save is not
        the one ``expected`` names (the token ``model_fences`` read, or of this writer's last
        save; '' for none; a model not in it is not checked), with those that have no save
        at all apart (``Refused.gone``). When no model is refused, the low-water marks are
        raised (unless not ``raise_marks``: other models hold records up to ``offsets`` not
        applied yet).

        ``token``: the same for every retry of one save (a random one when None), so that a
        retry after a lost reply finds its own write instead of another worker's."""
        fence = _fence_args(offsets, sources or {})
        token = token or secrets.token_hex(8)
        expected = expected or {}
        by_model: dict[str, tuple[list[str], list[Any], list[str]]] = {}
        for update in updates:
            keys, args, _ = by_model.setdefault(update.model_id, ([], [], []))
            keys += self._keys(update.model_id, update.model_version)
            args += _update_args(update)
        for model_id, model_version in retired:
            state, _, reference = self._keys(model_id, model_version)
            by_model.setdefault(model_id, ([], [], []))[2].extend((state, reference))
        rollouts = rollouts or {}
        for model_id in rollouts:
            by_model.setdefault(model_id, ([], [], []))
        calls = [
            ScriptCall(self._scripts["SAVE"],
                       [*self.fence_keys(m), self.written_key(m), canary_key(self.prefix, m),
                        *keys, *drop],
                       [self.ttl_s, *fence, len(keys) // 3, *args,
                        orjson.dumps(rollouts[m]) if m in rollouts else b"",
                        expected.get(m, "*"), token])
            for m, (keys, args, drop) in by_model.items()
        ]  # fmt: skip
        try:
            replies = dict(zip(by_model, await run_scripts(self.client, calls), strict=True))
            refused = Refused(
                (m for m, reply in replies.items() if reply == _OVERTAKEN),
                gone=(m for m, reply in replies.items() if reply == _GONE),
            )
            if not refused and raise_marks:
                await run_scripts(self.client, self._low_water(offsets, sources or {}))
        except RedisError as exc:
            raise StoreUnavailable(f"could not write monitor state: {exc}") from exc
        return refused

    def _low_water(
        self, offsets: dict[int, int], sources: dict[tuple[int, str, int], int]
    ) -> list[ScriptCall]:
        raise_ = self._scripts["RAISE"]
        calls = []
        if offsets:
            pairs = [v for item in offsets.items() for v in item]
            calls.append(ScriptCall(raise_, [self.offsets_key], pairs))
        if sources:
            fields = [v for source, o in sources.items() for v in (source_field(source), o)]
            calls.append(ScriptCall(raise_, [self.sources_key], fields))
        return calls


def _update_args(update: MonitorUpdate) -> list[Any]:
    """The SAVE script's arguments of one version: snapshot, profile, whether the chunks
    replace the stored ones, counted chunks."""
    profile = b"" if update.profile is None else orjson.dumps(update.profile)
    chunks = [orjson.dumps(chunk) for chunk in update.reference]
    return [orjson.dumps(update.snapshot), profile, b"1" if update.whole else b"", len(chunks),
            *chunks]  # fmt: skip


def _fence_args(offsets: dict[int, int], sources: dict[tuple[int, str, int], int]) -> list[Any]:
    """The SAVE script's fence arguments: counted offsets, then counted source offsets."""
    args: list[Any] = [len(offsets)]
    for partition, offset in offsets.items():
        args += [partition, offset]
    args.append(len(sources))
    for source, offset in sources.items():
        args += [source_field(source), offset]
    return args


def _text(value: bytes | str | None) -> str:
    return "" if value is None else value.decode() if isinstance(value, bytes) else value


def register_profile(redis_url: str, prefix: str, profile: dict[str, Any]) -> None:
    """Store ``profile`` from outside a worker (the CLI), with a client of its own."""

    async def register() -> None:
        client = connect(redis_url, socket_timeout=5)
        try:
            # The topic only names the offsets key, which this does not touch.
            await RedisMonitorStore(client, prefix=prefix, topic="").register_profile(profile)
        finally:
            await client.aclose()

    asyncio.run(register())
