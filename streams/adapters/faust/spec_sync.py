"""Specs other workers or operators stored in Redis, applied by a running worker: picked up
every ``DRIFTLINE_SPEC_REFRESH_S`` (``sync_specs``), or found by a batch whose warm-up
inferred a spec for the same model version (``IngestionService``)."""

from __future__ import annotations

import functools
import logging

from streams.adapters.redis.spec_store import RedisSpecStore
from streams.core.contract.pii import PiiPolicy, has_pii
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.errors import StoreUnavailable

__all__ = ["register_stored", "sync_specs"]

logger = logging.getLogger(__name__)


async def sync_specs(store: RedisSpecStore, registry: SpecRegistry, pii: PiiPolicy) -> None:
    """Pick up specs other workers or operators stored (``register_stored``)."""
    try:
        stored = await store.load()
    except StoreUnavailable as exc:
        logger.warning("Redis unavailable, will retry: %s", exc)
        return
    for spec in stored:
        current = registry.spec_for(spec.model_id, spec.model_version or "")
        if current is None or current.to_dict() != spec.to_dict():
            register_stored(registry, spec, pii)


def register_stored(registry: SpecRegistry, spec: ModelSpec, pii: PiiPolicy) -> None:
    """Apply a spec read from Redis (another worker's or an operator's) from now on.

    A spec with PII that comes while no key is set is not refused (the stream goes on): its
    PII values are dropped, as ``pii`` then hashes nothing, and a warning says so once.
    """
    registry.register(spec)
    if has_pii(spec) and not pii.hashes and pii.mode == "hash":
        _warn_unkeyed(spec.model_id)


@functools.cache
def _warn_unkeyed(model_id: str) -> None:
    # Cached: once per model per process, not at every refresh.
    logger.warning("model %s has PII features or attributes and no DRIFTLINE_PII_KEY is set: "
                   "its PII values are dropped, not hashed", model_id)  # fmt: skip
