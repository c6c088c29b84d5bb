"""The live page of one model version, as plain data: what its worker holds now.

Redis keeps a version's current state only (no per-window history), so the live page shows
the open window against the reference: per column the reference histogram against the
window's bins so far, each rule's statistic against its threshold as if the window closed
now, the episodes firing now, the window's data quality, and, when labels were joined, the
label side's current metrics. Built from restored monitors, read only (``open_window``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streams.adapters.files.report.page_model import (
    ColumnSection,
    Histogram,
    QualityRow,
    bin_labels,
    bin_shares,
)
from streams.core.drift.detector_set import column_kind
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.open_window import Judgement, OpenWindow
from streams.core.labels.performance_monitor import PerformanceMonitor

__all__ = ["LiveColumn", "LivePage", "LivePerformance", "live_page"]


@dataclass(frozen=True, slots=True)
class LiveColumn:
    """One column: its histogram and quality (``section``, no series: there is no history)
    and each of its rules on the open window."""

    section: ColumnSection
    judgements: tuple[Judgement, ...]

    @property
    def firing(self) -> bool:
        return any(j.firing_since is not None for j in self.judgements)

    @property
    def worst_ratio(self) -> float:
        """The highest statistic / threshold of its rules (0 without any)."""
        return max((_ratio(j) for j in self.judgements), default=0.0)


@dataclass(frozen=True, slots=True)
class LivePerformance:
    """The label side now: realised metrics by window ("window", "recent", "reference")."""

    labels: int
    evaluations: int
    metrics: dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class LivePage:
    model_id: str
    model_version: str
    task: str
    window: OpenWindow
    window_events: int  # events a window holds when it closes
    reference_events: int
    columns: tuple[ColumnSection, ...]
    live: tuple[LiveColumn, ...]
    model: tuple[Judgement, ...]  # the whole model's rules
    performance: LivePerformance | None

    @property
    def firing(self) -> tuple[Judgement, ...]:
        """Every rule whose episode is open now, columns first."""
        rules = [*(j for c in self.live for j in c.judgements), *self.model]
        return tuple(j for j in rules if j.firing_since is not None)


def live_page(
    monitor: ModelMonitor, performance: PerformanceMonitor | None = None
) -> LivePage | None:
    """The live page of ``monitor``'s version; None while it still learns its reference."""
    window = monitor.open_window()
    if window is None or monitor.profile is None:
        return None
    by_column: dict[str, list[Judgement]] = {}
    for judgement in window.judgements:
        if judgement.column is not None:
            by_column.setdefault(judgement.column, []).append(judgement)
    live = [_column(monitor, window, name, tuple(rules)) for name, rules in by_column.items()]
    # Most troubled first, as on the replay's page: firing, then furthest over its threshold.
    live.sort(key=lambda c: (not c.firing, -c.worst_ratio, c.section.name))
    return LivePage(
        model_id=monitor.spec.model_id,
        model_version=monitor.model_version,
        task=monitor.spec.task,
        window=window,
        window_events=monitor.config.window_events,
        reference_events=_reference_events(monitor),
        columns=tuple(c.section for c in live),
        live=tuple(live),
        model=tuple(j for j in window.judgements if j.column is None),
        performance=_performance(performance),
    )


def _column(
    monitor: ModelMonitor, window: OpenWindow, name: str, rules: tuple[Judgement, ...]
) -> LiveColumn:
    assert monitor.profile is not None
    profile = monitor.profile.numeric.get(name) or monitor.profile.categorical[name]
    counts = window.bin_counts.get(name)
    histogram = Histogram(
        labels=bin_labels(profile),
        reference=tuple(float(s) for s in profile.shares),
        monitored=bin_shares(np.array(counts or [0] * profile.bins)),
        peak=None,
        peak_window=None,
    )
    rates = {j.rule: j.verdict.value for j in rules}
    quality = QualityRow(
        column=name,
        count=window.events,
        reference_missing=profile.missing_rate,
        # The rate detectors' own counts; NaN where that detector is switched off.
        missing=rates.get("missing_rate", math.nan),
        out_of_range=rates.get("out_of_range"),
    )
    return LiveColumn(ColumnSection(name, column_kind(name), histogram, (), quality), rules)


def _performance(monitor: PerformanceMonitor | None) -> LivePerformance | None:
    if monitor is None:
        return None
    return LivePerformance(monitor.labels_seen, monitor.evaluations, monitor.metrics())


def _reference_events(monitor: ModelMonitor) -> int:
    """Events in the reference: its columns' counts (a column a newer spec added has none)."""
    assert monitor.profile is not None
    profile = monitor.profile
    counts = [c.count for c in profile.numeric.values()]
    counts += [c.count for c in profile.categorical.values()]
    return max(counts, default=0)


def _ratio(judgement: Judgement) -> float:
    verdict = judgement.verdict
    return verdict.value / verdict.threshold if verdict.threshold > 0 else 0.0
