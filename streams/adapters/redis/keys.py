"""Where a model's keys live: every key of one model (all its versions, its fence, label
join, duplicate ids, rollout state) starts with ``P:{M}``, the model id as a hash tag, so a
Redis Cluster keeps them in one slot and a Lua script may touch them together."""

from __future__ import annotations

__all__ = ["canary_key", "fence_keys", "model_base"]


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
