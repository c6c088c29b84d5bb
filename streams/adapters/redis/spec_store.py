"""Model specs in Redis, shared by every worker and kept across restarts."""

from __future__ import annotations

import logging

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.core.contract.spec import ModelSpec
from streams.core.errors import InvalidSpec, StoreUnavailable

__all__ = ["RedisSpecStore"]

logger = logging.getLogger(__name__)


class RedisSpecStore:
    """One Redis hash, ``<prefix>:specs``, mapping ``model_id[@version]`` to a spec's JSON."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}:specs"

    async def load(self) -> list[ModelSpec]:
        """Every stored spec; a malformed one is logged and skipped."""
        try:
            stored = await self.client.hgetall(self.key)
        except RedisError as exc:
            raise StoreUnavailable(f"could not read {self.key}: {exc}") from exc
        specs = []
        for field, value in stored.items():
            try:
                specs.append(ModelSpec.from_dict(orjson.loads(value)))
            except (orjson.JSONDecodeError, InvalidSpec) as exc:
                logger.error("skipping the spec stored at %s[%s]: %s", self.key, field, exc)
        return specs

    async def save(self, spec: ModelSpec, *, replace: bool) -> bool:
        """Store ``spec``; with ``replace=False`` an existing spec wins. True if written."""
        field = (
            spec.model_id if spec.model_version is None else f"{spec.model_id}@{spec.model_version}"
        )
        value = orjson.dumps(spec.to_dict())
        try:
            if replace:
                await self.client.hset(self.key, field, value)
                return True
            return bool(await self.client.hsetnx(self.key, field, value))
        except RedisError as exc:
            raise StoreUnavailable(f"could not write {self.key}[{field}]: {exc}") from exc
