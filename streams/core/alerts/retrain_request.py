"""A retraining request: the second thing Driftline emits, as ``schemas/retrain_request.json``
describes it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.core.alerts.alert import Window

__all__ = ["RETRAIN_SCHEMA_VERSION", "RetrainRequest", "finite"]

# The major version of schemas/retrain_request.json the requests follow.
RETRAIN_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class RetrainRequest:
    """A persistent loss of performance, with the evidence (``schemas/retrain_request.json``).

    ``request_id`` is deterministic (model, version, evaluation), so a re-sent request is
    recognisable, as an alert is by its ``alert_id``.
    """

    model_id: str
    model_version: str
    evaluation: int
    alerts: tuple[dict[str, Any], ...]
    metrics: dict[str, float]
    reference: dict[str, float]
    window: Window
    request_id: str = field(init=False)

    def __post_init__(self) -> None:
        key = f"{self.model_id}|{self.model_version}|{self.evaluation}"
        object.__setattr__(self, "request_id", hashlib.sha256(key.encode()).hexdigest()[:32])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": RETRAIN_SCHEMA_VERSION,
            "request_id": self.request_id,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "reason": sorted({alert["type"] for alert in self.alerts}),
            "alerts": list(self.alerts),
            "metrics": finite(self.metrics),
            "reference": finite(self.reference),
            "window": {
                "start_ms": self.window.start_ms,
                "end_ms": self.window.end_ms,
                "count": self.window.count,
            },
        }


def finite(values: dict[str, float]) -> dict[str, float | None]:
    """``values`` as JSON can carry them: NaN and infinities become None."""
    return {k: float(v) if np.isfinite(v) else None for k, v in values.items()}
