"""Where a model's keys live: every key of one model (all its versions, its fence, label
join, duplicate ids, rollout state) starts with ``P:{M}``, the model id as a hash tag, so a
Redis Cluster keeps them in one slot and a Lua script may touch them together."""

from __future__ import annotations

import logging
from collections.abc import Mapping

__all__ = [
    "canary_key",
    "covered_offsets",
    "fence_keys",
    "model_base",
    "parse_offsets",
    "parse_sources",
    "source_field",
]

logger = logging.getLogger(__name__)

#: A source: (the slot read at, the input topic, its partition). The slot is a by-model
#: partition, or -1 - p for the records applied where they were read.
Source = tuple[int, str, int]


def model_base(prefix: str, model_id: str) -> str:
    """``P:{M}``: the start of every key of ``model_id`` under ``prefix``.

    >>> model_base("driftline", "credit-risk")
    'driftline:{credit-risk}'
    """
    return f"{prefix}:{{{model_id}}}"


def canary_key(prefix: str, model_id: str) -> str:
    """``P:{M}:canary``: the model's rollout state (canary pairs, shadow sums).

    >>> canary_key("driftline", "credit-risk")
    'driftline:{credit-risk}:canary'
    """
    return f"{model_base(prefix, model_id)}:canary"


def fence_keys(prefix: str, model_id: str, topic: str) -> tuple[str, str]:
    """``P:{M}:offsets:T`` and ``P:{M}:sources:T``: the model's fence, what its saved state
    covers of ``topic`` (offsets per partition read) and of the topics its copies came from
    (per ``slot|topic|partition``).

    >>> fence_keys("driftline", "credit-risk", "preds")
    ('driftline:{credit-risk}:offsets:preds', 'driftline:{credit-risk}:sources:preds')
    """
    base = model_base(prefix, model_id)
    return f"{base}:offsets:{topic}", f"{base}:sources:{topic}"


def source_field(source: Source) -> str:
    """The ``sources`` hash field of ``source`` (Kafka topic names cannot hold "|").

    >>> source_field((3, "preds", 0))
    '3|preds|0'
    """
    slot, topic, partition = source
    return f"{slot}|{topic}|{partition}"


def parse_offsets(key: str, values: Mapping[bytes | str, bytes | str | int]) -> dict[int, int]:
    """A hash of offsets per partition (an ``offsets`` fence) as Redis returns it.

    A field or value that is not an integer (written by something else) is left out and
    logged: that partition's fence is then as if never written, so the records after it
    are applied again rather than skipped unapplied (at least once), and the next save
    writes it anew.

    >>> parse_offsets("k", {b"0": b"41", "1": "x"})
    {0: 41}
    """
    offsets = {}
    for field, offset in values.items():
        try:
            offsets[int(field)] = int(offset)
        except ValueError:
            _malformed(key, field, offset)
    return offsets


def parse_sources(key: str, values: Mapping[bytes | str, bytes | str | int]) -> dict[Source, int]:
    """A ``sources`` hash as Redis returns it: the last offset applied per source; a
    malformed field or value is left out, as in ``parse_offsets``.

    >>> parse_sources("k", {b"3|preds|0": b"41", "-1|preds|0": "40", "x": "1"})
    {(3, 'preds', 0): 41, (-1, 'preds', 0): 40}
    """
    applied = {}
    for field, offset in values.items():
        try:
            text = field.decode() if isinstance(field, bytes) else field
            slot, topic, partition = text.split("|")
            applied[int(slot), topic, int(partition)] = int(offset)
        except ValueError:
            _malformed(key, field, offset)
    return applied


def _malformed(key: str, field: object, value: object) -> None:
    logger.error("%s[%r] holds %r, not an offset: left out (as if never written; the records "
                 "after it are applied again)", key, field, value)  # fmt: skip


def covered_offsets(sources: Mapping[Source, int], topic: str) -> dict[int, int]:
    """Per partition of ``topic``, the last offset applied by any slot (any road).

    >>> covered_offsets({(3, "preds", 0): 41, (-1, "preds", 0): 40, (2, "labels", 1): 7}, "preds")
    {0: 41}
    """
    covered: dict[int, int] = {}
    for (_, source_topic, partition), offset in sources.items():
        if source_topic == topic:
            covered[partition] = max(covered.get(partition, -1), offset)
    return covered
