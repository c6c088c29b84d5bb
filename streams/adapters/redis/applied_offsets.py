"""Which input records were applied already, as Redis records it: replays are skipped.

After a crash Faust redelivers from its last commit, which may be behind what was applied;
the state store saves each batch's last offsets with each model's state in one atomic step
(the model's fence), and this reads them back to drop what is already in the state, in two
steps: before decoding, by the low-water marks (offsets every model has applied: one read
per partition), then, once each record's model is known, by that model's own fence (one
read per model; ``unapplied_events``).

Records read from the by-model topic (``RawRecord.read_at`` set) are fenced twice: by their
offset in that topic, as above, and by their SOURCE offset. A routing stage that crashed
after forwarding a chunk and before acking it forwards the chunk again: the copies get new
offsets in the by-model topic, but within one by-model partition the records of one source
partition arrive in source-offset order (one producer, in order), so a record whose source
offset is at or below the highest applied one for its ``(partition, source topic, source
partition)`` is a copy of one applied already.

A record the routing stage applies where it reads it (``DRIFTLINE_ROUTING=direct``:
``streams/adapters/kafka/routing.py``) is read at ``direct_read_at``, slot ``-1 - p`` for
input partition ``p``, which no by-model partition uses, at its chunk's last direct record
of ``p`` (as a bundle's records are at the bundle's offset): it is fenced the same two ways
under keys of its own. Each record takes one road or the other, fixed by its offset in its
partition's roads (``streams/adapters/kafka/roads.py``), so the two never fence the same
record. A router paused past a rebalance routes by the roads it read before, and may send a
record by the other road; with a ``RoadCheck`` set (the worker's routing stage sets it),
``fresh`` reads the stored roads of a batch's routed records and skips those that came by
another road than theirs (``came_its_road``; a claim made between that read and the
batch's save is not seen).

A model's fence is read with the token of its last save, and this worker's own saves update
both: a save expects that token, so a state built on an older one (another worker saved the
model since) is refused, and the caller rebuilds it from Redis (``forget_models``). A stored
token from before this worker's last save (``save_tokens.py``) means Redis went back in time
(it restarted from a persistence file behind its last writes, or a replica was promoted
before it had them), and the state held here is saved again whole instead (``_lost_of``), as
for a model whose keys are gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import Counter

from streams.adapters.durable import DurableWriter
from streams.adapters.redis.fences import (
    Fence,
    SourceKey,
    last_offsets,
    unapplied,
    unapplied_events,
)
from streams.adapters.redis.road_store import RoadCheck
from streams.adapters.redis.save_tokens import SaveTokens
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.adapters.redis.stored_values import MonitorUpdate
from streams.core.contract.event import RawRecord

__all__ = ["AppliedOffsets", "WholeState"]

logger = logging.getLogger(__name__)

#: Given models, the updates that write all a worker holds of them, and their rollout states.
WholeState = Callable[
    [frozenset[str]], Awaitable[tuple[list[MonitorUpdate], dict[str, dict[str, Any]]]]
]


class AppliedOffsets:
    """Skip applied records; save state with the offsets it covers."""

    def __init__(
        self,
        store: RedisMonitorStore,
        writer: DurableWriter,
        skipped: Counter,
        refused: Counter | None = None,
        lost: Counter | None = None,
        behind: Counter | None = None,
    ) -> None:
        """``skipped`` counts records skipped as applied; ``refused``, models found saved by
        another worker since this one read them (at a save, or before alerts leave);
        ``lost``, models whose stored state was gone at a save and was saved again whole;
        ``behind``, partitions committed past what the stored state holds
        (``streams/adapters/faust/rewind.py``)."""
        self.store = store
        self.writer = writer
        self.skipped = skipped
        self.refused = refused
        self.lost = lost
        self.behind_commits = behind
        #: Routed records are checked against their roads when set (``fresh``).
        self.road_check: RoadCheck | None = None
        #: What this worker holds of some models, whole, to save again where Redis no longer
        #: has their state (``save``); without it such models are refused and reloaded.
        self.whole: WholeState | None = None
        self._applied: dict[int, int] = {}
        self._sources: dict[SourceKey, int] | None = None
        self._reached: dict[int, int] = {}
        self._fences: dict[str, Fence] = {}
        self.tokens = SaveTokens()
        # When this worker last saved each model (``clock``), for ``save_lost``.
        self._saved_at: dict[str, float] = {}
        self.clock: Callable[[], float] = time.monotonic

    def forget(self) -> None:
        """After a rebalance: Redis, not memory, knows what was applied."""
        self._applied.clear()
        self._sources = None
        self._reached = {}
        self._fences.clear()
        self.tokens.forget()
        self._saved_at.clear()

    def forget_models(self, models: Collection[str]) -> None:
        """After a refused save: these models' fences are read again with their state."""
        if self.refused is not None:
            self.refused.inc(len(models))
        self.tokens.forget(models)
        for model_id in models:
            self._fences.pop(model_id, None)
            self._saved_at.pop(model_id, None)

    async def fresh_events(
        self,
        models: Sequence[str],
        positions: Sequence[tuple[int, int]],
        records: Sequence[RawRecord],
    ) -> list[int]:
        """Indexes of the decoded events their model has not applied yet (``fresh`` has
        dropped what every model applied); the fences of models new to this worker are read
        first, in one round trip per Redis node."""
        await self.know(models)
        keep = unapplied_events(models, positions, records, self._fences)
        if len(keep) < len(models):
            self.skipped.inc(len(models) - len(keep))
        return keep

    async def know(self, models: Iterable[str]) -> None:
        """Read the fences and last-save tokens of the models new to this worker (before
        their state is loaded: a save of theirs built on it then expects the right token)."""
        unknown = set(models) - self._fences.keys()
        if unknown:
            store = self.store
            read = await self.writer.until_done("redis", lambda: store.model_fences(unknown))
            for model_id, (applied, sources, token) in read.items():
                self._fences[model_id] = (applied, sources)
                self.tokens.read(model_id, token)

    async def overtaken(self, models: Collection[str]) -> set[str]:
        """The models of ``models`` another worker saved since this one read them: checked
        before a batch's alerts leave, so that a state the save would refuse publishes none
        (a save in between is still refused)."""
        tokens = self.tokens
        known = [m for m in models if tokens.last(m) is not None]
        if not known:
            return set()
        store = self.store
        last = await self.writer.until_done("redis", lambda: store.last_saves(known))
        # None stored ('') is not another worker's save, nor Redis gone back: ``save`` tells
        # gone and rolled-back state apart.
        return {
            m for m in known
            if last[m] and last[m] != tokens.last(m) and not tokens.went_back(m, last[m])
        }  # fmt: skip

    async def fresh(self, records: Sequence[RawRecord]) -> list[RawRecord]:
        """The records not applied yet."""
        store = self.store
        unknown = {r.position[0] for r in records} - self._applied.keys()
        if unknown:
            stored = await self.writer.until_done("redis", lambda: store.applied_offsets(unknown))
            self._applied.update({p: stored.get(p, -1) for p in unknown})
        if self._sources is None and any(r.read_at is not None for r in records):
            self._sources = await self.writer.until_done("redis", store.applied_sources)
        fresh = unapplied(records, self._applied, self._sources or {})
        if self.road_check is not None:
            fresh = await self.road_check.on_their_roads(fresh, self.writer)
        if len(fresh) < len(records):
            self.skipped.inc(len(records) - len(fresh))
        # Where the batch ends in each partition it moves past, skipped copies included: the
        # next ``save`` stores these offsets, so copies after a batch's last fresh record are
        # not read again (and the stored offsets do not stay behind the topic's end).
        self._reached = {
            p: offset
            for p, offset in last_offsets(records)[0].items()
            if offset > self._applied.get(p, -1)
        }
        if records and not fresh:
            await self._move_past()
        return fresh

    async def _move_past(self) -> None:
        """Store the offsets of a batch that held only copies (re-forwarded records the
        source fence skipped): nothing else will save them. The source offsets stay."""
        reached, self._reached = self._reached, {}
        await self.move_past(reached)

    async def move_past(self, reached: Mapping[int, int]) -> None:
        """Raise the low-water marks of ``reached``'s slots to its offsets: every record up
        to there is applied, or is applied elsewhere (``Router``'s copies)."""
        if reached:  # no model's state: nothing to refuse
            await self.writer.until_done("redis", lambda: self.store.save([], dict(reached)))
            # A slot not read yet is read when met: Redis may hold more than ``reached``.
            _raise(self._applied, {s: o for s, o in reached.items() if s in self._applied})

    async def save(
        self,
        updates: list[MonitorUpdate],
        records: Sequence[RawRecord],
        retired: Sequence[tuple[str, str]] = (),
        rollouts: Mapping[str, dict[str, Any]] | None = None,
    ) -> set[str]:
        """Write ``updates`` and ``rollouts`` (rollout states) with the last offsets of
        ``records`` (per partition and source; per partition, the end of the last ``fresh``
        batch, skipped copies included) and delete the state of ``retired`` versions,
        atomically per model; the models refused because another worker saved them since
        this one read them (their state in memory is stale: ``forget_models``, then rebuild
        it)."""
        offsets, sources = last_offsets(records)
        # The last ``fresh`` batch's ends: at or past its fresh records' offsets. Kept
        # through a refused save: the save of the refused models applied again takes them.
        offsets.update(self._reached)
        refused = await self._save(updates, offsets, sources, retired, rollouts or {})
        if not refused:
            self._reached = {}
            self._applied.update(offsets)
            if sources:
                self._sources = {**(self._sources or {}), **sources}
        return refused

    async def save_rollouts(self, rollouts: Mapping[str, dict[str, Any]]) -> set[str]:
        """Write rollout states alone (labels counted in them), each checked against its
        model's last save as ``save`` checks a state: the models refused."""
        return await self._save([], {}, {}, (), rollouts) if rollouts else set()

    async def _save(
        self,
        updates: list[MonitorUpdate],
        offsets: dict[int, int],
        sources: dict[SourceKey, int],
        retired: Sequence[tuple[str, str]],
        rollouts: Mapping[str, dict[str, Any]],
        *,
        marks: bool = True,
    ) -> set[str]:
        """``marks``: the low-water marks may be raised to ``offsets`` (no other model holds
        records before them not applied yet)."""
        tokens = self.tokens
        token = tokens.new()
        written = {update.model_id for update in updates} | rollouts.keys()
        expected = {m: last for m in written | {m for m, _ in retired}
                    if (last := tokens.last(m)) is not None}  # fmt: skip
        refused = await self.writer.until_done(
            "redis",
            lambda: self.store.save(updates, offsets, retired, sources, token, expected,
                                    rollouts, raise_marks=marks),
        )  # fmt: skip
        for model_id in written - refused:
            fence = self._fences.get(model_id)
            if fence is not None:  # else read with the token when the model is next met
                _raise(fence[0], offsets)
                _raise(fence[1], sources)
            tokens.wrote(model_id, token)
            self._saved_at[model_id] = self.clock()
        if not refused or self.whole is None:
            return refused
        lost = {model_id: "" for model_id in refused.gone}
        lost.update(await self._lost_of(refused - refused.gone))
        if not lost:
            return refused
        # Redis lost writes, maybe those of other models held here too: the low-water marks
        # written back with these would pass their records, so they are checked first.
        lost.update(await self._lost_of(self._saved_lately(self.store.ttl_s / 2) - refused))
        # The models still refused are applied again, their records in ``offsets`` too: the
        # whole save raises the lost models' fences, not the low-water marks past those.
        still = refused - lost.keys()
        return still | await self._save_whole(lost, offsets, sources, marks=marks and not still)

    async def _lost_of(self, models: Collection[str]) -> dict[str, str]:
        """Of ``models`` (saved here last, as far as this worker knows), those Redis lost,
        with the token it holds: no save at all ('') or one from before this worker's last
        (``SaveTokens.went_back``). Another worker's save since is no loss."""
        if not models:
            return {}
        store, tokens = self.store, self.tokens
        last = await self.writer.until_done("redis", lambda: store.last_saves(models))
        return {m: token for m, token in last.items() if not token or tokens.went_back(m, token)}

    def _saved_lately(self, within_s: float) -> set[str]:
        """The models this worker saved in the last ``within_s`` seconds."""
        since, tokens = self.clock() - within_s, self.tokens
        return {m for m, at in self._saved_at.items() if at >= since and tokens.last(m)}

    async def save_lost(self, within_s: float) -> set[str]:
        """Between batches: save again, whole, the models this worker saved in the last
        ``within_s`` seconds whose stored state Redis no longer has (a save finds the loss
        too, but a model with no later event would keep none of its state). Models saved
        longer ago are left out: their keys may have expired (``state_ttl_s``). The models
        refused (another worker saved them since the loss)."""
        if self.whole is None:
            return set()
        lost = await self._lost_of(self._saved_lately(within_s))
        return await self._save_whole(lost, {}, {}) if lost else set()

    async def _save_whole(
        self,
        lost: Mapping[str, str],
        offsets: dict[int, int],
        sources: dict[SourceKey, int],
        *,
        marks: bool = True,
    ) -> set[str]:
        """Save again, whole, what this worker holds of ``lost``, the models whose keys
        Redis no longer had ('') or had as an earlier save of this writer's (its token):
        only where no other worker has saved them since (expecting what Redis holds); then
        the low-water marks this worker knows, which went with them (a partition no later
        batch touches would have none). The models still refused."""
        assert self.whole is not None
        self._tell_lost(lost)
        updates, rollouts = await self.whole(frozenset(lost))
        for model_id, token in lost.items():  # what the whole save is to expect
            self.tokens.wrote(model_id, token)
        refused = await self._save(updates, offsets, sources, (), rollouts, marks=marks)
        # Only the partitions this worker reads: its copy of the others' source marks is as
        # old as its first read of them, and stood for other workers' states, which went
        # with the loss (written back, they made a worker taking those partitions over skip
        # records no state held: RELIABILITY finding 45).
        known = dict(self._applied)
        known_sources = {s: o for s, o in (self._sources or {}).items() if s[0] in known}
        if not refused and (known or known_sources):
            await self.writer.until_done(
                "redis", lambda: self.store.save([], known, sources=known_sources)
            )
        return refused

    def _tell_lost(self, lost: Mapping[str, str]) -> None:
        """Log and count the models of ``lost`` Redis lost; those whose keys are gone and
        this worker last saved ``state_ttl_s`` or more ago expired as told (a model idle
        that long), and only say so."""
        self._page(
            [m for m, token in lost.items() if token],
            "Redis went back to an earlier save of %d models (%s): it lost the writes after it "
            "(a restart from a persistence file behind its last writes, or a replica promoted "
            "before it had them); saving what this worker holds of them again",
        )
        gone = {m for m, token in lost.items() if not token}
        now, ttl_s = self.clock(), self.store.ttl_s
        expired = {m for m in gone if now - self._saved_at.get(m, now) >= ttl_s}
        if expired:
            logger.info("the stored state of %d models expired while this worker held them "
                        "(idle past the state TTL): saving it again", len(expired))  # fmt: skip
        self._page(
            gone - expired,
            "Redis no longer holds the stored state of %d models (%s): it lost their keys; "
            "saving what this worker holds of them again",
        )

    def _page(self, models: Collection[str], message: str) -> None:
        """An ERROR naming up to five of ``models`` (``message`` takes their count and
        names), and the count of lost states: ``DriftlineStateLost`` pages on it."""
        if not models:
            return
        shown = sorted(models)
        named = ", ".join(shown[:5]) + (", ..." if len(shown) > 5 else "")
        logger.error(message, len(shown), named)
        if self.lost is not None:
            self.lost.inc(len(shown))


def _raise(fence: dict[Any, int], offsets: Mapping[Any, int]) -> None:
    """As the SAVE script does: each offset raised, never lowered."""
    for key, offset in offsets.items():
        if offset > fence.get(key, -1):
            fence[key] = offset
