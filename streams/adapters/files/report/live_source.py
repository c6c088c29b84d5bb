"""A model version's monitors as its worker stored them in Redis, restored for reading.

The same keys, parsing and restore as the worker (``RedisMonitorStore.fetch``,
``Monitor.restore_stored``, ``PerformanceMonitors.restore_stored``), but nothing is written
back: the restored monitors are only looked at (``live.live_page``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from streams.adapters.files.validation_labels import references_of_profiles
from streams.adapters.redis.client import connect
from streams.adapters.redis.spec_store import RedisSpecStore
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.monitor import Monitor
from streams.core.labels.performance_monitor import PerformanceMonitor
from streams.core.labels.performance_monitors import PerformanceMonitors
from streams.settings import Settings

__all__ = ["LiveMonitors", "NotStored", "load_live"]


class NotStored(LookupError):
    """Redis holds nothing to show for the model version (no spec, or no state)."""


@dataclass(frozen=True, slots=True)
class LiveMonitors:
    drift: ModelMonitor
    performance: PerformanceMonitor | None


def load_live(
    settings: Settings, pii: PiiPolicy, key: tuple[str, str], specs: list[ModelSpec]
) -> LiveMonitors:
    """Restore ``key``'s monitors from Redis; ``specs`` (from files) go beside the stored ones.

    Raises ``NotStored`` naming what is missing, ``InvalidState`` for malformed state and
    ``StoreUnavailable`` when Redis does not answer.
    """
    return asyncio.run(_load(settings, pii, key, specs))


async def _load(
    settings: Settings, pii: PiiPolicy, key: tuple[str, str], specs: list[ModelSpec]
) -> LiveMonitors:
    client = connect(settings.redis_url, socket_timeout=5)
    try:
        stored_specs = await RedisSpecStore(client, prefix=settings.redis_prefix).load()
        registry = settings.spec_registry([*stored_specs, *specs])
        if registry.spec_for(*key) is None:
            raise NotStored(f"no spec for model {key[0]} version {key[1]} (in Redis or --spec)")
        # The topic only names offset keys, which are not read here.
        store = RedisMonitorStore(client, prefix=settings.redis_prefix, topic="")
        raw = await store.fetch(*key, tidy=False)
        if raw is None:
            raise NotStored(f"no stored state for model {key[0]} version {key[1]} in Redis "
                            f"(prefix {settings.redis_prefix!r})")  # fmt: skip
        stored = raw.parse()
        monitor = Monitor(registry, settings.monitor_config(), pii=pii).restore_stored(
            key, snapshot=stored.snapshot, profile=stored.profile, reference=stored.reference
        )
        assert monitor is not None  # the registry has its spec
        performance = await _performance(client, settings, registry, pii, key, stored.profile)
        return LiveMonitors(monitor, performance)
    finally:
        await client.aclose()


async def _performance(
    client: aioredis.Redis,
    settings: Settings,
    registry: SpecRegistry,
    pii: PiiPolicy,
    key: tuple[str, str],
    profile: dict[str, Any] | None,
) -> PerformanceMonitor | None:
    """The label side's monitor if the worker stored one (namespace "performance")."""
    store = RedisMonitorStore(client, prefix=settings.redis_prefix, topic="",
                              namespace="performance")  # fmt: skip
    raw = await store.fetch(*key, tidy=False)
    if raw is None or raw.state is None:
        return None
    # As the worker does: a registered profile may carry the labelled reference.
    references = references_of_profiles([profile]) if profile is not None else {}
    monitors = PerformanceMonitors(
        registry, settings.performance_config(), pii=pii, references=references
    )
    return monitors.restore_stored(key, raw.parse().snapshot)
