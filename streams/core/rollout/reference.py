"""Which reference a new model version starts from (``DRIFTLINE_NEW_VERSION_REFERENCE``).

A release that shifts every score would learn the shift as normal if it learnt its own
reference from its first events. With ``inherit`` (the default) a version with no
registered profile starts from the reference of the model's previous version: features are
inputs and do not depend on the version, and the previous scores and predictions are what
the new ones are judged against, so a shifted release raises ``prediction_drift``.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.core.contract.spec import ModelSpec
from streams.core.drift.profile import ReferenceProfile

__all__ = ["MODES", "inherited"]

MODES = ("inherit", "own")


def inherited(spec: ModelSpec, candidates: Iterable[ReferenceProfile]) -> ReferenceProfile | None:
    """The last of ``candidates`` (oldest first) that fits ``spec``: it profiles every
    feature the spec watches (a version that added a feature learns its own reference)."""
    fitting = [p for p in candidates if p.model_id == spec.model_id and _covers(p, spec)]
    return fitting[-1] if fitting else None


def _covers(profile: ReferenceProfile, spec: ModelSpec) -> bool:
    return set(spec.features) <= {*profile.numeric, *profile.categorical}
