"""What on-call reads first: how old events are when processed, how late alerts leave, the
model's own latency (against its objective) and scores, the health checks, and the process
itself.

Histograms are ``BatchHistogram``s, observed once per batch and model version with numpy.
Label values are bounded as in ``metrics``: ``model`` and ``version`` of accepted events
only (the registry caps both), removed when a model is forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Gauge,
    PlatformCollector,
    ProcessCollector,
)

from streams.adapters.prometheus.batch_histogram import BatchHistogram
from streams.adapters.prometheus.latency_objectives import LatencyObjectives
from streams.core.alerts.alert import Alert
from streams.core.contract.event import PredictionEvent

__all__ = ["HEALTH_CHECKS", "StreamMetrics", "add_process_collectors", "group_by_version"]

#: Event age in seconds; 60 is the SLO's bound (deploy/prometheus/rules.yml), so a bucket.
AGE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400)
#: The model's own latency in milliseconds (its p99 on the dashboards; the SLO counts events
#: over each model's objective exactly, in ``LatencyObjectives``, whatever these bounds are).
LATENCY_MS_BUCKETS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
SCORE_BUCKETS = tuple(round(0.1 * i, 1) for i in range(1, 11))
#: The parts of /health, each exported as 1 (ok) or 0.
HEALTH_CHECKS = ("kafka", "redis", "stream", "progress")

Version = tuple[str, str]


def group_by_version(events: Sequence[PredictionEvent]) -> dict[Version, list[PredictionEvent]]:
    """A batch's events by (model, version), in stream order."""
    groups: dict[Version, list[PredictionEvent]] = {}
    for event in events:
        groups.setdefault((event.model_id, event.model_version), []).append(event)
    return groups


class StreamMetrics:
    """Event age, event-to-alert latency, model latency and score, health, process."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.event_age = BatchHistogram(
            "driftline_event_age_seconds",
            "Processing time minus the event's timestamp, per model, observed when its batch "
            "is done (negative ages, from clock skew, fall in the first bucket).",
            ["model"],
            buckets=AGE_BUCKETS,
        )
        self.alert_latency = BatchHistogram(
            "driftline_alert_latency_seconds",
            "Publication time of an alert minus its trigger event's timestamp, per alert type.",
            ["type"],
            buckets=AGE_BUCKETS,
        )
        self.model_latency = BatchHistogram(
            "driftline_model_latency_ms",
            "The model's own latency_ms as reported in its events, per model version.",
            ["model", "version"],
            buckets=LATENCY_MS_BUCKETS,
        )
        self.score = BatchHistogram(
            "driftline_model_score",
            "The model's score as reported in its events, per model version.",
            ["model", "version"],
            buckets=SCORE_BUCKETS,
        )
        for histogram in self._histograms():
            registry.register(histogram)
        self.latency_objectives = LatencyObjectives()
        registry.register(self.latency_objectives)
        self.health = Gauge(
            "driftline_health_check_up",
            "1 when this part of /health passed at its last check, else 0: kafka, redis, "
            "stream (joined and the agent alive) or progress (no stalled partition).",
            ["check"],
            registry=registry,
        )

    def _histograms(self) -> tuple[BatchHistogram, ...]:
        return (self.event_age, self.alert_latency, self.model_latency, self.score)

    def observe_events(
        self,
        groups: Mapping[Version, list[PredictionEvent]],
        now: float,
        objectives: Mapping[Version, float],
    ) -> None:
        """A batch's accepted events, grouped by ``group_by_version``, processed at ``now``;
        ``objectives``: each version's latency objective in ms."""
        ages: dict[str, list[np.ndarray]] = {}
        for (model, version), events in groups.items():
            stamps = np.fromiter((e.timestamp_ms for e in events), float, len(events))
            ages.setdefault(model, []).append(now - stamps / 1000.0)
            latency = np.array([e.latency_ms for e in events], dtype=float)
            self.model_latency.observe((model, version), latency)
            self.latency_objectives.observe((model, version), objectives[model, version], latency)
            self.score.observe((model, version), np.array([e.score for e in events], float))
        for model, parts in ages.items():
            self.event_age.observe((model,), np.concatenate(parts))

    def observe_alerts(self, alerts: Sequence[Alert], now: float) -> None:
        """How late each alert leaves after the event that triggered it."""
        for alert in alerts:
            delay = now - alert.trigger.timestamp_ms / 1000.0
            self.alert_latency.observe((alert.type,), np.array([delay]))

    def observe_health(self, checks: Mapping[str, Mapping[str, object]]) -> None:
        """The checks of one /health report."""
        for name in HEALTH_CHECKS:
            if name in checks:
                self.health.labels(name).set(1.0 if checks[name].get("ok") else 0.0)

    def forget_versions(self, versions: Iterable[Version]) -> None:
        """Drop the per-version series of retired model versions (new versions keep coming;
        the registry caps how many are live, not how many there ever were)."""
        gone = set(versions)
        for histogram in (self.model_latency, self.score):
            histogram.remove_where(lambda labels: (labels[0], labels[1]) in gone)
        self.latency_objectives.remove_where(lambda key: key in gone)

    def forget_models(self, model_ids: Iterable[str]) -> None:
        gone = set(model_ids)
        for histogram in (self.event_age, self.model_latency, self.score):
            histogram.remove_where(lambda labels: labels[0] in gone)
        self.latency_objectives.remove_where(lambda key: key[0] in gone)


def add_process_collectors(registry: CollectorRegistry) -> None:
    """prometheus_client's process (CPU, memory, file descriptors, start time) and platform
    collectors, on ``registry`` (the default registry has them already)."""
    if registry is not REGISTRY:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
