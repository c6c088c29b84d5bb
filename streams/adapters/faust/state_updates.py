"""What a batch's save writes of the drift monitors, and what a worker writes again, whole,
for the models whose stored state Redis no longer has (``AppliedOffsets.whole``)."""

from __future__ import annotations

import functools
from typing import Any

from streams.adapters.durable import DurableWriter
from streams.adapters.redis.spec_store import RedisSpecStore
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.monitor import Monitor

__all__ = ["update_of", "whole_state"]


def update_of(key: tuple[str, str], monitor: ModelMonitor, *, whole: bool = False) -> MonitorUpdate:
    """What a save writes of ``monitor``: its snapshot, and its profile or reference chunks
    not written yet (``whole``: all of them, to replace what is stored)."""
    profile, reference = monitor.take_new_profile(), monitor.take_new_reference()
    return MonitorUpdate(*key, monitor.snapshot(), profile, reference, whole)


async def whole_state(
    models: frozenset[str],
    monitor: Monitor,
    writer: DurableWriter,
    *,
    specs: RedisSpecStore | None,
    rollouts_kept: bool,
) -> tuple[list[MonitorUpdate], dict[str, dict[str, Any]]]:
    """All ``monitor`` holds of ``models`` (with their rollout states if ``rollouts_kept``),
    the specs it rests on stored in ``specs`` first where none is (another worker's wins)."""
    held = {key: m for key, m in monitor.monitors.items() if key[0] in models}
    if specs is not None:
        found = (monitor.registry.spec_for(*key) for key in held)
        for spec in {id(s): s for s in found if s is not None}.values():
            await writer.until_done("redis", functools.partial(specs.save, spec, replace=False))
    for each in held.values():
        each.mark_unsaved()
    rollouts = monitor.rollouts
    kept = rollouts.snapshots(models) if rollouts is not None and rollouts_kept else {}
    return [update_of(key, each, whole=True) for key, each in held.items()], kept
