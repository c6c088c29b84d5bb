"""The worker's settings: one frozen object, built once at the entry point from the environment.

Nothing below the CLI reads ``os.environ``; it is handed a ``Settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from streams.core.registry import UnknownModelPolicy

__all__ = ["Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of a Driftline worker, with its default.

    Each field ``name`` is read from the environment variable ``DRIFTLINE_<NAME>``.
    """

    kafka_bootstrap: str = "127.0.0.1:9092"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "driftline"
    app_id: str = "driftline"
    topic_predictions: str = "predictions"
    topic_labels: str = "labels"
    topic_alerts: str = "alerts"
    topic_dlq: str = "predictions-dlq"
    topic_labels_dlq: str = "labels-dlq"
    topic_retrain: str = "retrain-requests"
    partitions: int = 4
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_size: int = 1000
    max_message_bytes: int = 65536
    max_features: int = 1000
    unknown_models: UnknownModelPolicy = "auto"
    warmup_events: int = 200
    max_models: int = 100
    # A warm-up frees its model slot if it has not completed this long after it started.
    warmup_timeout_s: float = 600.0
    # Watched versions per model; a new one retires the least recently seen if it has been
    # unseen this long, else its events are dead-lettered (version_limit).
    max_versions_per_model: int = 10
    version_idle_s: float = 300.0
    max_statistic_series: int = 5000
    window_events: int = 1000
    reference_events: int = 5000
    state_ttl_s: int = 30 * 86400
    # The label join: how long a prediction waits for its label (0: predictions are not
    # kept, labels cannot join), and a label for its prediction.
    label_ttl_s: int = 7 * 86400
    label_wait_s: int = 600
    max_early_labels: int = 100_000
    label_retry_s: float = 5.0
    # Retraining requests: after this many evaluations (250 labels each) of a persisting
    # performance or concept-drift episode, then none for the cooldown's evaluations.
    retrain_after: int = 3
    retrain_cooldown: int = 20
    # Performance alerts: an accuracy/F1/ROC AUC drop below the reference, or a relative
    # MAE/RMSE rise above it, judged once the window holds this many labels.
    performance_max_drop: float = 0.05
    performance_max_error_rise: float = 0.2
    performance_min_labels: int = 200
    # How soon the group notices a dead worker and hands its partitions to another.
    session_timeout_s: float = 30.0
    spec_refresh_s: float = 10.0
    specs_dir: Path | None = None
    # Faust keeps small bookkeeping files here (in the working directory unless told).
    data_dir: Path = Path("~/.local/state/driftline/faust")

    def __post_init__(self) -> None:
        positive = ("partitions", "batch_size", "max_message_bytes", "session_timeout_s",
                    "state_ttl_s", "label_retry_s", "retrain_after", "performance_max_error_rise",
                    "performance_min_labels")  # fmt: skip
        caps = ("max_features", "warmup_events", "max_models", "warmup_timeout_s",
                "max_versions_per_model")  # fmt: skip
        for name in (*positive, *caps, "spec_refresh_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DRIFTLINE_{name.upper()} must be positive")
        if min(self.label_ttl_s, self.label_wait_s, self.max_early_labels,
               self.retrain_cooldown, self.version_idle_s) < 0:  # fmt: skip
            raise ValueError("DRIFTLINE_LABEL_TTL_S, _LABEL_WAIT_S, _MAX_EARLY_LABELS, "
                             "_RETRAIN_COOLDOWN and _VERSION_IDLE_S must not be "
                             "negative")  # fmt: skip
        if not 0 < self.performance_max_drop < 1:
            raise ValueError("DRIFTLINE_PERFORMANCE_MAX_DROP must be in (0, 1)")
        if not 0 < self.web_port < 65536:
            raise ValueError(f"DRIFTLINE_WEB_PORT must be a port number, got {self.web_port}")
        if self.unknown_models not in ("auto", "reject"):
            raise ValueError("DRIFTLINE_UNKNOWN_MODELS must be 'auto' or 'reject'")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Read ``DRIFTLINE_*`` variables; ``overrides`` (from CLI flags) win over them."""
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = environ.get(f"DRIFTLINE_{field.name.upper()}")
            if raw is not None and raw != "":
                values[field.name] = _convert(field.name, field.type, raw)
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic_predictions, self.topic_labels, self.topic_alerts, self.topic_dlq,
                self.topic_labels_dlq, self.topic_retrain)  # fmt: skip


def _convert(name: str, annotation: object, raw: str) -> Any:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind.startswith("Path"):  # "Path" or "Path | None"
            return Path(raw)
    except ValueError as exc:
        raise ValueError(f"DRIFTLINE_{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
