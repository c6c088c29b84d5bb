"""The label join in Redis: predictions kept with a time to live, each joined at most once.

Keys (``P`` the prefix, ``M`` the model; ``{M}`` is a hash tag, so one model's keys share a
Redis Cluster slot and one script may touch them all):

- ``P:{M}:kept:B``        hash of the predictions kept in time bucket ``B`` (a quarter of
  the TTL): event id -> their kept fields (JSON), for the TTL and at most a quarter more;
  once joined prefixed by ``=PARTITION:OFFSET`` of the label that joined it: another label
  is a ``duplicate``, while the same label record again (a batch replayed after a crash,
  before its state was saved) joins again, so it is not lost
- ``P:{M}:ids:B``         hash of the same ids, kept for twice the TTL: a label whose
  prediction is gone but was kept is ``expired``, not ``unknown``
- ``P:{M}:early``         sorted set of event ids whose label came first, by give-up time
- ``P:{M}:early-labels``  hash event id -> the waiting label (JSON)

Every operation is one Lua script per model, so a join is atomic: two workers (or a
redelivered batch) cannot both join the same prediction. Storing a prediction uses ``NX``, so
a replayed prediction does not revive one that was joined already. The scripts, and why the
predictions are in buckets: ``label_join_scripts``.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from streams.adapters.redis.client import ScriptCall, run_scripts
from streams.adapters.redis.keys import model_base
from streams.adapters.redis.label_join_scripts import JOIN, KEEP, RETRY
from streams.core.contract.event import LabelEvent, PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.errors import InvalidState, StoreUnavailable
from streams.core.labels.labelled import (
    JoinOutcome,
    LabelledPrediction,
    kept_fields,
    label_fields,
    label_from_fields,
    labelled,
)
from streams.settings import setting_default

__all__ = ["JoinResult", "RedisLabelJoin"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What became of one label; ``joined`` is set for ``JoinOutcome.JOINED`` only.
    ``position`` is the label's (partition, offset) in the labels topic."""

    outcome: JoinOutcome
    label: LabelEvent
    position: tuple[int, int]
    joined: LabelledPrediction | None = None


class RedisLabelJoin:
    """Keep predictions for their labels and join labels to them.

    Parameters
    ----------
    ttl_s
        How long a prediction waits for its label.
    wait_s
        How long a label that came first waits for its prediction.
    max_early
        Labels that may wait per model; more are dropped as ``overflow``.
    pii
        Redacts the attributes a model's spec marks PII before they are kept (dropped when
        None).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str,
        ttl_s: int = setting_default("label_ttl_s"),
        wait_s: int = setting_default("label_wait_s"),
        max_early: int = setting_default("max_early_labels"),
        pii: PiiPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_s < 1 or wait_s < 0 or max_early < 0:
            raise ValueError("ttl_s must be positive, wait_s and max_early not negative")
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.max_early = max_early
        self.pii = pii
        self.clock = clock  # picks the buckets; Redis's own clock still does the expiring
        # Buckets of a quarter of the TTL: kept at most 25% longer, 6 buckets to look in.
        self.bucket_s = -(-ttl_s // 4)
        self._keep = client.register_script(KEEP)
        self._join = client.register_script(JOIN)
        self._retry = client.register_script(RETRY)

    def _buckets(self, now_s: float) -> tuple[int, int, int]:
        """Every script's first arguments (``label_join_scripts``): the bucket of now, its
        width, the TTL."""
        return int(now_s // self.bucket_s), self.bucket_s, self.ttl_s

    def _expiries(self, now_s: float) -> tuple[int, int]:
        """Seconds until the kept fields of now's bucket expire, and its ids."""
        kept = math.ceil((now_s // self.bucket_s + 1) * self.bucket_s + self.ttl_s - now_s)
        return kept, kept + self.ttl_s + self.bucket_s

    def _base(self, model_id: str) -> str:
        return model_base(self.prefix, model_id)

    async def keep(
        self,
        events: Sequence[PredictionEvent],
        pii_attributes: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """Store what the metrics need of each prediction until its label comes;
        ``pii_attributes`` names each model's PII attributes (redacted before storing)."""
        by_model: dict[str, list[bytes | str | int]] = defaultdict(list)
        pii = pii_attributes or {}
        for event in events:
            names = pii.get(event.model_id, frozenset())
            by_model[event.model_id] += [
                event.event_id,
                orjson.dumps(kept_fields(event, names, self.pii)),
            ]
        now_s = self.clock()
        first = [*self._buckets(now_s), *self._expiries(now_s)]
        try:
            # One round trip for all models: a batch of 50 models' events, 50 scripts.
            await run_scripts(self.client, [
                ScriptCall(self._keep, [self._base(model_id)], [*first, *args])
                for model_id, args in by_model.items()
            ])  # fmt: skip
        except RedisError as exc:
            raise StoreUnavailable(f"keeping predictions for their labels failed: {exc}") from exc

    async def join(
        self, labels: Sequence[LabelEvent], positions: Sequence[tuple[int, int]], *, now_ms: int
    ) -> list[JoinResult]:
        """Join each label to its prediction, or let it wait, or say why it cannot be."""
        by_model: dict[str, list[tuple[LabelEvent, tuple[int, int]]]] = defaultdict(list)
        for label, position in zip(labels, positions, strict=True):
            by_model[label.model_id].append((label, position))
        results, buckets = [], self._buckets(self.clock())
        for model_id, model_labels in by_model.items():
            args: list[bytes | str | int] = [*buckets, now_ms + self.wait_s * 1000,
                                             self.max_early]  # fmt: skip
            for label, (partition, offset) in model_labels:
                fields = orjson.dumps(label_fields(label, (partition, offset)))
                args += [label.event_id, fields, f"{partition}:{offset}"]
            reply = await self._run(self._join, model_id, args)
            for (label, position), (outcome, kept) in zip(
                model_labels, _pairs(reply, 2), strict=True
            ):
                results.append(_result(outcome, label, position, kept))
        return results

    async def retry_early(
        self, model_id: str, *, now_ms: int, limit: int = 1000
    ) -> tuple[list[JoinResult], int]:
        """Join waiting labels whose prediction has come, give up on those past their wait;
        the results, and how many labels still wait."""
        args = [*self._buckets(self.clock()), now_ms, limit]
        remaining, *reply = await self._run(self._retry, model_id, args)
        results = []
        for outcome, event_id, kept, raw_label in _pairs(reply, 4):
            try:
                fields = orjson.loads(raw_label)
                label, position = label_from_fields(model_id, event_id.decode(), fields)
            except (orjson.JSONDecodeError, InvalidState, UnicodeDecodeError) as exc:
                logger.error("a waiting label of %s cannot be read (%r): dropped", model_id, exc)
                continue
            results.append(_result(outcome, label, position, kept))
        return results, remaining

    async def _run(self, script, model_id: str, args: list) -> list:
        try:
            return await script(keys=[self._base(model_id)], args=args)
        except RedisError as exc:
            raise StoreUnavailable(f"label join for {model_id} failed: {exc}") from exc


def _pairs(reply: list, width: int) -> list[tuple]:
    return [tuple(reply[i : i + width]) for i in range(0, len(reply), width)]


def _result(
    outcome: bytes, label: LabelEvent, position: tuple[int, int], kept: bytes
) -> JoinResult:
    kind = JoinOutcome(outcome.decode())
    if kind is not JoinOutcome.JOINED:
        return JoinResult(kind, label, position)
    try:
        return JoinResult(kind, label, position, labelled(label, orjson.loads(kept)))
    except (orjson.JSONDecodeError, InvalidState) as exc:
        logger.error("label of %s/%s not joined: what was kept of its prediction cannot be "
                     "read (%r)", label.model_id, label.event_id, exc)  # fmt: skip
        return JoinResult(JoinOutcome.UNREADABLE, label, position)
