"""The report's pages as plain data, built from a ``ReportRecorder``: no HTML, no charts.

One ``VersionPage`` per model version: the alert summary and episodes, a section per column
(reference vs monitored histogram, each rule's statistic over windows with its threshold and
episodes, its data quality), the whole model's series, rejections and, with labels, the
label side over time. Everything here is tested without a browser.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from streams.adapters.files.report.recorder import ReportRecorder, VersionRecord, WindowRecord
from streams.core.alerts.alert import Alert
from streams.core.drift.detector_set import column_kind
from streams.core.drift.profile import CategoricalProfile, NumericProfile

__all__ = [
    "ColumnSection",
    "Episode",
    "Histogram",
    "PerformanceSection",
    "QualityRow",
    "RuleSeries",
    "VersionPage",
    "bin_labels",
    "bin_shares",
    "build_pages",
]

# Drift-side episodes are numbered by window (``rule/w3``), label-side ones by evaluation.
_DRIFT_SIDE = frozenset({"data_drift", "prediction_drift", "data_quality", "anomaly"})


@dataclass(frozen=True, slots=True)
class Episode:
    """An alert episode: windows (or evaluations) ``start`` to ``end``; ``end`` None while
    it still fires at the end of the file."""

    alert_type: str
    column: str | None
    rule: str
    start: int
    end: int | None
    value: float
    threshold: float
    start_ms: int


@dataclass(frozen=True, slots=True)
class RuleSeries:
    """One rule's statistic over the windows, beside the threshold it had to clear."""

    rule: str
    windows: tuple[int, ...]
    values: tuple[float, ...]
    thresholds: tuple[float, ...]
    detectors: tuple[str, ...]
    statistics: tuple[str, ...]
    episodes: tuple[Episode, ...]

    @property
    def peak_ratio(self) -> float:
        """The highest value / threshold over the windows (0 without any)."""
        ratios = [v / t for v, t in zip(self.values, self.thresholds, strict=True) if t > 0]
        return max(ratios, default=0.0)


@dataclass(frozen=True, slots=True)
class Histogram:
    """Shares per reference bin: the reference, every monitored event, the peak window."""

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    monitored: tuple[float, ...]
    peak: tuple[float, ...] | None
    peak_window: int | None


@dataclass(frozen=True, slots=True)
class QualityRow:
    column: str
    count: int
    reference_missing: float
    missing: float
    out_of_range: float | None  # numeric columns only: outside the reference's [min, max]


@dataclass(frozen=True, slots=True)
class ColumnSection:
    name: str
    kind: str  # "feature" or "prediction"
    histogram: Histogram
    series: tuple[RuleSeries, ...]
    quality: QualityRow

    @property
    def episodes(self) -> tuple[Episode, ...]:
        return tuple(e for s in self.series for e in s.episodes)


@dataclass(frozen=True, slots=True)
class PerformanceSection:
    """The label side after each batch of labels (x: the last evaluation the batch reached)."""

    evaluations: tuple[int, ...]
    labels: tuple[int, ...]
    metrics: dict[str, tuple[float, ...]]
    reference: dict[str, float]
    fairness: dict[str, dict[str, tuple[float, ...]]]
    fairness_bounds: dict[str, float]
    episodes: tuple[Episode, ...]


@dataclass(frozen=True, slots=True)
class VersionPage:
    model_id: str
    model_version: str
    task: str
    events: int
    reference_events: int
    window_starts_ms: tuple[int, ...]
    alerts: dict[str, int]  # firing alerts by type
    episodes: tuple[Episode, ...]
    columns: tuple[ColumnSection, ...]
    model_series: tuple[RuleSeries, ...]
    rejected: dict[str, int]
    rejected_unattributed: dict[str, int]
    performance: PerformanceSection | None


def build_pages(recorder: ReportRecorder) -> list[VersionPage]:
    """A page for every model version the replay watched, in the order first seen."""
    unattributed = dict(sorted(recorder.rejected.get(None, Counter()).items()))
    return [
        _page(record, recorder.rejected.get(record.model_id, Counter()), unattributed)
        for record in recorder.versions.values()
        if record.monitor is not None and record.monitor.profile is not None
    ]


def _page(
    record: VersionRecord, rejected: Counter[str], unattributed: dict[str, int]
) -> VersionPage:
    episodes = _drift_episodes(record)
    series = _series(record.windows, episodes)
    columns = [
        _column(record, name, rules)
        for name, rules in series.items()
        if name is not None and name in record.tallies
    ]
    # Most troubled first: a person opens the page to see what drifted.
    columns.sort(key=lambda c: (-max((s.peak_ratio for s in c.series), default=0), c.name))
    performance = _performance(record)
    all_episodes = [*episodes, *(performance.episodes if performance else ())]
    assert record.monitor is not None
    return VersionPage(
        model_id=record.model_id,
        model_version=record.model_version,
        task=record.monitor.spec.task,
        events=record.taken,
        reference_events=record.reference_events,
        window_starts_ms=tuple(w.start_ms for w in record.windows),
        alerts=dict(sorted(Counter(a.type for a in record.alerts if a.status == "firing").items())),
        episodes=tuple(sorted(all_episodes, key=lambda e: (e.start_ms, e.rule))),
        columns=tuple(columns),
        model_series=tuple(series.get(None, ())),
        rejected=dict(sorted(rejected.items())),
        rejected_unattributed=unattributed,
        performance=performance,
    )


def _drift_episodes(record: VersionRecord) -> list[Episode]:
    """Episodes from the alerts: a firing alert opens one at its window, its resolution
    (the same episode id) closes it at the window its trigger event ended."""
    window_of = {w.last_offset: w.index for w in record.windows}
    ends: dict[str, int] = {
        a.episode_id: window_of[a.trigger.offset]
        for a in record.alerts
        if a.status == "resolved" and a.type in _DRIFT_SIDE and a.trigger.offset in window_of
    }
    return [_episode(a, ends.get(a.episode_id)) for a in _firing(record.alerts, _DRIFT_SIDE)]


def _firing(alerts: list[Alert], types: frozenset[str] | None) -> list[Alert]:
    return [a for a in alerts if a.status == "firing" and (types is None or a.type in types)]


def _episode(alert: Alert, end: int | None) -> Episode:
    rule, _, start = alert.episode.rpartition("/")
    return Episode(alert.type, alert.feature, rule, int(start[1:]), end, alert.value,
                   alert.threshold, alert.window.start_ms)  # fmt: skip


def _series(
    windows: list[WindowRecord], episodes: list[Episode]
) -> dict[str | None, list[RuleSeries]]:
    """Each column's (None: the whole model's) rules, each with its values by window."""
    points: dict[tuple[str | None, str], list[tuple[int, float, float, str, str]]] = {}
    for window in windows:
        for j in window.judgements:
            points.setdefault((j.column, j.rule), []).append(
                (window.index, j.value, j.threshold, j.detector, j.statistic)
            )
    series: dict[str | None, list[RuleSeries]] = {}
    for (column, rule), rows in points.items():
        index, values, thresholds, detectors, statistics = zip(*rows, strict=True)
        own = tuple(e for e in episodes if e.column == column and e.rule == rule)
        series.setdefault(column, []).append(
            RuleSeries(rule, index, values, thresholds, detectors, statistics, own)
        )
    return series


def _column(record: VersionRecord, name: str, series: list[RuleSeries]) -> ColumnSection:
    assert record.monitor is not None and record.monitor.profile is not None
    profile = record.monitor.profile.numeric.get(name) or record.monitor.profile.categorical[name]
    tally = record.tallies[name]
    drift = [s for s in series if s.rule == "drift"]
    peak = None
    if drift and drift[0].values:
        ratios = np.array(drift[0].values) / np.maximum(np.array(drift[0].thresholds), 1e-12)
        peak = drift[0].windows[int(np.argmax(ratios))]
    histogram = Histogram(
        labels=bin_labels(profile),
        reference=tuple(float(s) for s in profile.shares),
        monitored=bin_shares(tally.bins),
        peak=None if peak is None else bin_shares(record.windows[peak].bins[name]),
        peak_window=peak,
    )
    numeric = isinstance(profile, NumericProfile)
    present = max(tally.count - tally.missing, 1)
    quality = QualityRow(
        column=name,
        count=tally.count,
        reference_missing=profile.missing_rate,
        missing=tally.missing / max(tally.count, 1),
        out_of_range=tally.out_of_range / present if numeric else None,
    )
    return ColumnSection(name, column_kind(name), histogram, tuple(series), quality)


def bin_shares(counts: np.ndarray) -> tuple[float, ...]:
    """Each bin's share of the counts (all 0 without any)."""
    total = max(int(counts.sum()), 1)
    return tuple(float(c) / total for c in counts)


def bin_labels(profile: NumericProfile | CategoricalProfile) -> tuple[str, ...]:
    """The reference's bins as a person reads them: ranges, or categories and the rest."""
    if isinstance(profile, CategoricalProfile):
        return (*profile.categories, "(other)")
    edges = [f"{e:.4g}" for e in profile.edges]
    if not edges:
        return ("all",)
    inner = [f"[{a}, {b})" for a, b in pairwise(edges)]
    return (f"< {edges[0]}", *inner, f">= {edges[-1]}")


def _performance(record: VersionRecord) -> PerformanceSection | None:
    points = record.performance
    if not points:
        return None
    names = [n for n in points[-1].metrics if n != "count"]
    fairness = {
        attribute: {
            name: tuple(p.fairness.get(attribute, {}).get(name, float("nan")) for p in points)
            for name in dict.fromkeys(n for p in points for n in p.fairness.get(attribute, {}))
        }
        for attribute in points[-1].fairness
    }
    episodes = tuple(
        _episode(a, record.resolved_at.get(a.episode_id)) for a in _firing(record.alerts, None)
        if a.type not in _DRIFT_SIDE
    )  # fmt: skip
    return PerformanceSection(
        # The last evaluation each batch reached: what episodes are numbered by.
        evaluations=tuple(p.evaluations - 1 for p in points),
        labels=tuple(p.labels for p in points),
        metrics={n: tuple(p.metrics.get(n, float("nan")) for p in points) for n in names},
        reference=dict(points[-1].reference),
        fairness=fairness,
        fairness_bounds=dict(points[-1].fairness_bounds),
        episodes=episodes,
    )
