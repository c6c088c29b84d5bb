"""The per-version gauges: what each model version's detectors, performance and fairness
windows judged last, and its monitor's readiness.

Their label sets are capped (``max_series``; an update refused is counted in ``dropped``)
and leave with their version: when it retires, when its model is forgotten, and when a
rebalance has moved it to another worker (``HeldVersions``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter

from streams.adapters.prometheus.held_versions import HeldVersions
from streams.adapters.prometheus.text_families import TextGauge
from streams.core.detectors.base import Verdict
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.labels.fairness import FairnessWindow

__all__ = ["VersionSeries"]

Version = tuple[str, str]
_JUDGED = ("disparate_impact_ratio", "demographic_parity_difference",
           "equal_opportunity_difference")  # fmt: skip


class VersionSeries:
    """The per-version gauges on ``registry``, every one labelled (model, version, ...)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        max_series: int,
        dropped: Counter,
        moved_grace_s: float,
    ) -> None:
        self.max_series = max_series
        self._dropped = dropped
        self._admitted: set[tuple[str, ...]] = set()
        self.held = HeldVersions(grace_s=moved_grace_s)
        statistic_labels = ["model", "version", "feature", "detector"]
        self.window_statistic = TextGauge(
            "driftline_window_statistic",
            "The statistic each detector judged at the last closed window (PSI, rates); "
            "feature is empty for model-level detectors.",
            statistic_labels,
            registry=registry,
        )
        self.window_threshold = TextGauge(
            "driftline_window_threshold",
            "The threshold the statistic was judged against at the last closed window.",
            statistic_labels,
            registry=registry,
        )
        self._add_version_gauges(registry)

    def _add_version_gauges(self, registry: CollectorRegistry) -> None:
        self.performance = TextGauge(
            "driftline_performance",
            "Performance of a model version: view is window (its last N labels), recent (the "
            "last hour of labelled predictions), reference, or estimated (from the last N "
            "predictions' scores alone, before labels arrive; assumes calibrated scores).",
            ["model", "version", "metric", "view"],
            registry=registry,
        )
        self.reference_ready = TextGauge(
            "driftline_monitor_reference_ready",
            "1 once a model version's reference profile is built (given or learned), else 0: "
            "before that no detector judges its events.",
            ["model", "version"],
            registry=registry,
        )
        self.windows_closed = TextGauge(
            "driftline_monitor_windows_closed",
            "Windows a model version has closed and judged against its reference, from its "
            "stored state (so it survives a restart).",
            ["model", "version"],
            registry=registry,
        )
        self.fairness = TextGauge(
            "driftline_fairness",
            "Per model version and protected attribute (the spec's fairness policies), over "
            "the fairness window: per group its selection_rate and true_positive_rate, and "
            "for the worst group against the reference group disparate_impact_ratio "
            "(bound 0.8 by default), demographic_parity_difference and "
            "equal_opportunity_difference (group is that group; NaN until judgeable).",
            ["model", "version", "attribute", "group", "metric"],
            registry=registry,
        )

    def observe_monitor(
        self, key: Version, watched: ModelMonitor, verdicts: Sequence[tuple[str | None, Verdict]]
    ) -> None:
        """A version just fed: its readiness, and the verdicts of the windows it closed."""
        self.held.saw((key,))
        # Bounded by the monitor's own cap on versions watched, not the statistics cap.
        self.reference_ready.set(key, 0.0 if watched.profile is None else 1.0)
        self.windows_closed.set(key, watched.windows_closed)
        # At each closed window (when verdicts come), not every batch.
        if watched.label_free is not None and verdicts:
            self.observe_performance(*key, {"estimated": watched.label_free.estimate()})
        for feature, verdict in verdicts:
            labels = (*key, feature or "", verdict.detector)
            if self._admit(labels):
                self.window_statistic.set(labels, verdict.value)
                self.window_threshold.set(labels, verdict.threshold)

    def observe_performance(self, model_id: str, version: str, views: dict) -> None:
        self.held.saw(((model_id, version),))
        for view, metrics in views.items():
            for metric, value in metrics.items():
                labels = (model_id, version, metric, view)
                if self._admit(labels):
                    self.performance.set(labels, value)

    def observe_fairness(
        self, model_id: str, version: str, windows: Mapping[str, FairnessWindow]
    ) -> None:
        """Group rates and the judged ratios of a model version's fairness windows (groups
        are capped by the policy's ``max_groups``; label sets by the statistics cap)."""
        for attribute, window in windows.items():
            values = [
                (group, metric, value)
                for group, rates in window.groups().items()
                for metric, value in (
                    ("selection_rate", rates.selection_rate),
                    ("true_positive_rate", rates.true_positive_rate),
                )
            ]
            report = window.judge()
            for metric in _JUDGED:
                group = getattr(report, metric.rsplit("_", 1)[0] + "_group") or ""
                values.append((group, metric, getattr(report, metric)))
            for group, metric, value in values:
                labels = (model_id, version, attribute, group, metric)
                if self._admit(labels):
                    self.fairness.set(labels, value)

    def moved(self, now: float) -> set[Version]:
        """The versions another worker holds since the last rebalance, once its grace
        period is over (``HeldVersions``)."""
        exported = (
            (labels[0], labels[1])
            for gauge in (self.reference_ready, self.performance)
            for labels in gauge.label_sets()
        )
        return self.held.moved(exported, now=now)

    def drop_where(self, matches: Callable[[tuple[str, ...]], bool]) -> None:
        """Drop the series whose labels ``matches`` accepts, and their room under the cap."""
        for gauge in (self.window_statistic, self.window_threshold, self.performance,
                      self.fairness, self.reference_ready, self.windows_closed):  # fmt: skip
            gauge.remove_where(matches)
        self._admitted = {labels for labels in self._admitted if not matches(labels)}

    def _admit(self, labels: tuple[str, ...]) -> bool:
        """Whether a series may be set: known, or room left under the cap."""
        if labels not in self._admitted:
            if len(self._admitted) >= self.max_series:
                self._dropped.inc()
                return False
            self._admitted.add(labels)
        return True
