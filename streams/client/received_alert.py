"""``ReceivedAlert``: an alert read back from the alerts topic, typed.

The fields are those of ``schemas/alert.json`` (a test holds them equal, nested objects
included). Within a major version the schema only grows, so fields this client does not
know yet are ignored; a record of another major version is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from streams.client.record_json import json_object, schema_major

__all__ = ["AlertStatistic", "AlertTrigger", "AlertWindow", "ReceivedAlert", "parse_time"]


@dataclass(frozen=True, slots=True)
class AlertStatistic:
    name: str
    value: float
    threshold: float


@dataclass(frozen=True, slots=True)
class AlertWindow:
    start: datetime
    end: datetime
    count: int


@dataclass(frozen=True, slots=True)
class AlertTrigger:
    event_id: str
    partition: int
    offset: int
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class ReceivedAlert:
    """One alert as Driftline published it; ``alert_id`` is the same for a re-sent one."""

    schema_version: int
    alert_id: str
    type: str
    status: Literal["firing", "resolved"]
    severity: Literal["info", "warning", "critical"]
    model_id: str
    model_version: str
    detector: str
    statistic: AlertStatistic
    window: AlertWindow
    trigger: AlertTrigger
    created_at: datetime
    episode_id: str | None = None
    feature: str | None = None
    sample: tuple[dict[str, Any], ...] = ()
    message: str = ""
    #: Only on ``canary`` alerts: the verdict, its checks and sample sizes.
    canary: dict[str, Any] | None = None
    #: The features behind an anomaly, prediction drift or performance alert, when known.
    explanation: dict[str, Any] | None = None
    #: The segment (attribute and value) a per-segment check judged; None for the global one.
    segment: dict[str, str] | None = None
    #: Only on ``adversarial`` alerts: the source (hashed), the pattern and the evidence.
    adversarial: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, value: bytes | None) -> ReceivedAlert:
        """Parse one record's value; ``ValueError`` saying why when it is not an alert."""
        document = json_object(value)
        try:
            statistic, window, trigger = (document[k] for k in ("statistic", "window", "trigger"))
            return cls(
                schema_version=schema_major(document),
                alert_id=str(document["alert_id"]),
                type=str(document["type"]),
                status=document["status"],
                severity=document["severity"],
                model_id=str(document["model_id"]),
                model_version=str(document["model_version"]),
                detector=str(document["detector"]),
                statistic=AlertStatistic(
                    str(statistic["name"]), float(statistic["value"]), float(statistic["threshold"])
                ),
                window=AlertWindow(
                    parse_time(window["start"]), parse_time(window["end"]), int(window["count"])
                ),
                trigger=AlertTrigger(
                    str(trigger["event_id"]),
                    int(trigger["partition"]),
                    int(trigger["offset"]),
                    parse_time(trigger["timestamp"]),
                ),
                created_at=parse_time(document["created_at"]),
                episode_id=document.get("episode_id"),
                feature=document.get("feature"),
                sample=tuple(document.get("sample", ())),
                message=str(document.get("message", "")),
                canary=document.get("canary"),
                explanation=document.get("explanation"),
                segment=document.get("segment"),
                adversarial=document.get("adversarial"),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an alert: missing or malformed {exc}") from exc


def parse_time(value: object) -> datetime:
    """An RFC 3339 string of ours (at most microseconds) as an aware ``datetime``."""
    if not isinstance(value, str):
        raise TypeError(f"timestamp {value!r}")
    return datetime.fromisoformat(value.upper())
