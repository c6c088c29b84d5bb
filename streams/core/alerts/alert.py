"""Alerts: what Driftline emits, as ``schemas/alert.json`` describes it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "ALERT_SCHEMA_VERSION",
    "Alert",
    "AlertType",
    "Explanation",
    "Segment",
    "Trigger",
    "Window",
    "format_time",
    "state_quarantined",
]

# The major version of schemas/alert.json the records follow; bumped only by a breaking change.
ALERT_SCHEMA_VERSION = 1

AlertType = Literal[
    "data_drift", "prediction_drift", "data_quality", "anomaly", "performance",
    "concept_drift", "fairness", "internal", "canary", "adversarial",
]  # fmt: skip


def format_time(epoch_ms: int) -> str:
    """RFC 3339 with milliseconds, UTC."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Window:
    start_ms: int
    end_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class Trigger:
    """The event at which the decision was made, and where to find it again."""

    event_id: str
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Explanation:
    """Which features lie behind an alert, most first: ``features`` are (name, contribution,
    detail) with ``method`` saying what a contribution is: ``mahalanobis_share`` (the
    feature's share of the anomalous events' squared distance) or ``drift_ratio`` (a drifted
    feature's statistic over its threshold, detail naming the detector and the windows)."""

    method: Literal["mahalanobis_share", "drift_ratio"]
    features: tuple[tuple[str, float, dict[str, Any]], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "features": [
                {"name": name, "contribution": round(contribution, 6), **detail}
                for name, contribution, detail in self.features
            ],
        }


@dataclass(frozen=True, slots=True)
class Segment:
    """The segment a per-segment check judged: an attribute and its value ("other" for the
    pooled rest; the keyed hash when the attribute is PII)."""

    attribute: str
    value: str


@dataclass(frozen=True, slots=True)
class Alert:
    """A firing or resolved alert for one (model, version, feature, detector).

    ``episode`` (the rule and the window the episode began in) with the model, version and
    feature give the ``episode_id`` that a firing alert and its resolution share; a re-sent
    alert has the same ``alert_id``.
    """

    type: AlertType
    status: Literal["firing", "resolved"]
    severity: Literal["info", "warning", "critical"]
    model_id: str
    model_version: str
    feature: str | None
    detector: str
    statistic_name: str
    value: float
    threshold: float
    window: Window
    trigger: Trigger
    episode: str
    sample: tuple[dict[str, Any], ...] = ()
    message: str = ""
    #: The features behind it (anomaly, prediction drift, performance), when known.
    explanation: Explanation | None = None
    segment: Segment | None = None
    # A canary alert's verdict, evidence and sample sizes (streams/core/rollout/canary.py).
    canary: dict[str, Any] | None = None
    #: ``adversarial`` alerts: the source (hashed), the pattern and the evidence.
    adversarial: dict[str, Any] | None = None
    episode_id: str = field(init=False)
    alert_id: str = field(init=False)

    def __post_init__(self) -> None:
        key = "|".join((self.model_id, self.model_version, self.feature or "", self.episode))
        if self.segment is not None:  # a segment's episode is its own (global ids unchanged)
            key += f"|{self.segment.attribute}={self.segment.value}"
        episode_id = hashlib.sha256(key.encode()).hexdigest()[:16]
        alert_id = hashlib.sha256(f"{episode_id}|{self.status}".encode()).hexdigest()[:32]
        object.__setattr__(self, "episode_id", episode_id)
        object.__setattr__(self, "alert_id", alert_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``created_at`` is the decision's event time, so replays agree."""
        record = {
            "schema_version": ALERT_SCHEMA_VERSION,
            "alert_id": self.alert_id,
            "episode_id": self.episode_id,
            "type": self.type,
            "status": self.status,
            "severity": self.severity,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "feature": self.feature,
            "detector": self.detector,
            "statistic": {
                "name": self.statistic_name,
                "value": round(self.value, 6),
                "threshold": round(self.threshold, 6),
            },
            "window": {
                "start": format_time(self.window.start_ms),
                "end": format_time(self.window.end_ms),
                "count": self.window.count,
            },
            "trigger": {
                "event_id": self.trigger.event_id,
                "partition": self.trigger.partition,
                "offset": self.trigger.offset,
                "timestamp": format_time(self.trigger.timestamp_ms),
            },
            "sample": list(self.sample),
            "message": self.message,
            "created_at": format_time(self.trigger.timestamp_ms),
        }
        if self.explanation is not None:
            record["explanation"] = self.explanation.to_dict()
        if self.segment is not None:
            record["segment"] = {"attribute": self.segment.attribute, "value": self.segment.value}
        if self.canary is not None:
            record["canary"] = self.canary
        if self.adversarial is not None:
            record["adversarial"] = self.adversarial
        return record


def state_quarantined(
    model_id: str, model_version: str, trigger: Trigger, *, keys: int, reason: str, stamp: int
) -> Alert:
    """The ``internal`` alert that a model version's stored state was malformed, moved aside
    (``keys`` keys, at unix second ``stamp``) and its monitoring restarted from scratch.

    ``reason`` names what was wrong, never the stored value.
    """
    return Alert(
        type="internal",
        status="firing",
        severity="warning",
        model_id=model_id,
        model_version=model_version,
        feature=None,
        detector="state_store",
        statistic_name="quarantined_keys",
        value=float(keys),
        threshold=0.0,
        window=Window(trigger.timestamp_ms, trigger.timestamp_ms, 0),
        trigger=trigger,
        episode=f"state_quarantined/{stamp}",
        message=f"stored state of {model_id}:{model_version} was quarantined ({reason}); "
        "monitoring restarted from scratch",
    )
