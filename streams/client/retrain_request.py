"""``ReceivedRetrainRequest``: a retraining request read back from its topic, typed.

The fields are those of ``schemas/retrain_request.json`` (a test holds them equal); unknown
fields of a newer minor version are ignored, another major version is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.client.record_json import json_object, schema_major

__all__ = ["ReceivedRetrainRequest", "RetrainAlert", "RetrainWindow"]


@dataclass(frozen=True, slots=True)
class RetrainAlert:
    """One firing alert that persisted and led to the request."""

    alert_id: str
    episode_id: str
    type: str
    statistic: str
    value: float
    threshold: float


@dataclass(frozen=True, slots=True)
class RetrainWindow:
    start_ms: int
    end_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class ReceivedRetrainRequest:
    """Retrain or replace ``model_id:model_version``; the same ``request_id`` if re-sent."""

    schema_version: int
    request_id: str
    model_id: str
    model_version: str
    reason: tuple[str, ...]
    alerts: tuple[RetrainAlert, ...]
    metrics: dict[str, float | None]
    reference: dict[str, float | None]
    window: RetrainWindow

    @classmethod
    def from_json(cls, value: bytes | None) -> ReceivedRetrainRequest:
        """Parse one record's value; ``ValueError`` saying why when it is not a request."""
        document = json_object(value)
        try:
            window = document["window"]
            return cls(
                schema_version=schema_major(document),
                request_id=str(document["request_id"]),
                model_id=str(document["model_id"]),
                model_version=str(document["model_version"]),
                reason=tuple(document["reason"]),
                alerts=tuple(_alert(item) for item in document["alerts"]),
                metrics=dict(document["metrics"]),
                reference=dict(document["reference"]),
                window=RetrainWindow(
                    int(window["start_ms"]), int(window["end_ms"]), int(window["count"])
                ),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a retraining request: missing or malformed {exc}") from exc


def _alert(item: dict[str, Any]) -> RetrainAlert:
    return RetrainAlert(
        alert_id=str(item["alert_id"]), episode_id=str(item["episode_id"]),
        type=str(item["type"]), statistic=str(item["statistic"]), value=float(item["value"]),
        threshold=float(item["threshold"]),
    )  # fmt: skip
