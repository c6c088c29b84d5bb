"""What a replay did, batch by batch, kept for the report: the ``ReplayObserver`` it runs with.

The verdicts, alerts and reference are the monitors' own (``BatchOutcome``, each
``ModelMonitor``'s profile); the recorder only adds tallies a person wants to see beside
them: each window's values binned on the reference's bins, missing and out-of-range counts,
rejections by reason, and the label side's metrics after each batch.

Windows are told apart the way ``ModelMonitor`` cuts them: a version's first
``reference_events`` events (none when a profile was given) form the reference, then every
``window_events`` events close a window. The recorder checks its count of closed windows
against the monitor's after every batch, so a drift between the two fails loudly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streams.core.alerts.alert import Alert
from streams.core.contract.columns import Columns, category_of
from streams.core.contract.event import PredictionEvent
from streams.core.contract.ingestor import IngestResult
from streams.core.detectors import REGISTRY, Verdict
from streams.core.drift.detector_set import PREDICTION, SCORE
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.monitor import Monitor
from streams.core.drift.outcome import BatchOutcome, Key
from streams.core.drift.profile import CategoricalProfile, NumericProfile
from streams.core.errors import DriftlineError
from streams.core.labels.performance_monitor import PerformanceMonitor
from streams.core.labels.performance_monitors import PerformanceOutcome

__all__ = ["Judgement", "PerformancePoint", "ReportRecorder", "VersionRecord", "WindowRecord"]

_RULE_OF = {detector.name: detector.rule for detector in REGISTRY}


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a column's rule (or the whole model's, ``column`` None) said of one window."""

    column: str | None
    rule: str
    detector: str
    statistic: str
    value: float
    threshold: float


@dataclass(slots=True)
class WindowRecord:
    """One closed window: where it lies in the stream, its verdicts, its binned values."""

    index: int
    first_offset: int
    last_offset: int
    start_ms: int
    end_ms: int
    count: int = 0
    judgements: list[Judgement] = field(default_factory=list)
    bins: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PerformancePoint:
    """The label side of one version after a batch of labels."""

    labels: int
    evaluations: int
    metrics: dict[str, float]
    reference: dict[str, float]
    #: By attribute: its summary metrics and each group's selection rate.
    fairness: dict[str, dict[str, float]]
    #: By attribute: the lowest disparate impact ratio its policy allows.
    fairness_bounds: dict[str, float]


@dataclass(slots=True)
class ColumnTally:
    """Counts over every monitored (post-reference) event of one column."""

    bins: np.ndarray
    count: int = 0
    missing: int = 0
    out_of_range: int = 0


@dataclass(slots=True)
class VersionRecord:
    """Everything recorded of one model version."""

    model_id: str
    model_version: str
    reference_events: int
    taken: int = 0
    windows: list[WindowRecord] = field(default_factory=list)
    open_window: WindowRecord | None = None
    tallies: dict[str, ColumnTally] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    performance: list[PerformancePoint] = field(default_factory=list)
    #: The evaluation a label-side episode was resolved by (the last of its batch's).
    resolved_at: dict[str, int] = field(default_factory=dict)
    monitor: ModelMonitor | None = None


class ReportRecorder:
    """Watches a replay of ``monitor``: pass it as ``replay(..., observer=recorder)``."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor
        self.versions: dict[Key, VersionRecord] = {}
        #: Rejections by model id (None: the record named no model the registry knows).
        self.rejected: dict[str | None, Counter[str]] = {}
        self.lines = 0

    def predictions(self, result: IngestResult, outcome: BatchOutcome) -> None:
        self.lines += len(result.accepted) + len(result.rejected)
        for rejection in result.rejected:
            self.rejected.setdefault(rejection.model_id, Counter())[rejection.reason.value] += 1
        groups: dict[Key, list[int]] = {}
        for i, event in enumerate(result.accepted):
            groups.setdefault((event.model_id, event.model_version), []).append(i)
        for key in outcome.touched:
            rows = groups[key]
            events = [result.accepted[i] for i in rows]
            offsets = [result.positions[i][1] for i in rows]
            self._take(key, events, offsets, outcome.verdicts.get(key, ()))
        for alert in outcome.alerts:
            self._version((alert.model_id, alert.model_version)).alerts.append(alert)

    def labels(self, outcome: PerformanceOutcome) -> None:
        for key, monitor in outcome.touched.items():
            self._version(key).performance.append(_performance_point(monitor))
        for alert in outcome.alerts:
            key = (alert.model_id, alert.model_version)
            record = self._version(key)
            record.alerts.append(alert)
            if alert.status == "resolved" and key in outcome.touched:
                record.resolved_at[alert.episode_id] = outcome.touched[key].evaluations - 1

    def _version(self, key: Key) -> VersionRecord:
        record = self.versions.get(key)
        if record is None:
            up_front = key in self.monitor.profiles
            reference = 0 if up_front else self.monitor.config.reference_events
            record = self.versions[key] = VersionRecord(*key, reference_events=reference)
        return record

    def _take(
        self,
        key: Key,
        events: Sequence[PredictionEvent],
        offsets: Sequence[int],
        verdicts: Sequence[tuple[str | None, Verdict]],
    ) -> None:
        record = self._version(key)
        monitor = record.monitor = self.monitor.monitors[key]
        window_events = self.monitor.config.window_events
        closed_before = len(record.windows)
        start = 0
        while start < len(events):
            monitored = record.taken - record.reference_events
            if monitored < 0:
                step = min(-monitored, len(events) - start)
            else:
                step = min(window_events - monitored % window_events, len(events) - start)
                self._window_part(record, monitor, events[start : start + step],
                                  offsets[start : start + step], window_events)  # fmt: skip
            record.taken += step
            start += step
        closed = record.windows[closed_before:]
        if len(record.windows) != monitor.windows_closed:
            raise DriftlineError(
                f"report: {key[0]} {key[1]}: {len(record.windows)} windows counted, the "
                f"monitor closed {monitor.windows_closed} (state not replayed from the start?)"
            )
        _split_verdicts(closed, verdicts)

    def _window_part(
        self,
        record: VersionRecord,
        monitor: ModelMonitor,
        events: Sequence[PredictionEvent],
        offsets: Sequence[int],
        window_events: int,
    ) -> None:
        window = record.open_window
        if window is None:
            window = record.open_window = WindowRecord(
                len(record.windows), offsets[0], offsets[-1], events[0].timestamp_ms, 0
            )
        window.last_offset, window.end_ms = offsets[-1], events[-1].timestamp_ms
        window.count += len(events)
        for name, values in _columns(monitor, events).items():
            _tally(record, monitor, window, name, values)
        if window.count == window_events:
            record.windows.append(window)
            record.open_window = None


def _columns(monitor: ModelMonitor, events: Sequence[PredictionEvent]) -> dict[str, Any]:
    """The columns the reference profiles, by name (PII features left out: their profile
    holds hashes, which a person cannot read)."""
    pii = {name for name, feature in monitor.spec.features.items() if feature.pii}
    numeric = [n for n in monitor.numeric if n not in pii]
    categorical = [n for n in monitor.categorical if n not in pii]
    columns = Columns.from_events(events, numeric, categorical)
    named: dict[str, Any] = {n: columns.numeric[:, j] for j, n in enumerate(numeric)}
    named.update(columns.categorical)
    named[SCORE] = np.array([np.nan if e.score is None else e.score for e in events], float)
    predictions = [category_of(e.prediction) for e in events]
    if monitor.spec.task == "regression":
        named[PREDICTION] = np.array(predictions, dtype=float)
    else:
        named[PREDICTION] = predictions
    return named


def _tally(
    record: VersionRecord, monitor: ModelMonitor, window: WindowRecord, name: str, values: Any
) -> None:
    assert monitor.profile is not None  # windows close only once the reference is built
    profile = monitor.profile.numeric.get(name) or monitor.profile.categorical.get(name)
    if profile is None:
        return
    counts = profile.bin_counts(values)
    tally = record.tallies.get(name)
    if tally is None:
        tally = record.tallies[name] = ColumnTally(np.zeros(profile.bins, dtype=np.int64))
    tally.bins += counts
    tally.count += len(values)
    previous = window.bins.get(name)
    window.bins[name] = counts if previous is None else previous + counts
    if isinstance(profile, NumericProfile):
        present = values[~np.isnan(values)]
        tally.missing += len(values) - present.size
        outside = (present < profile.minimum) | (present > profile.maximum)
        tally.out_of_range += int(np.count_nonzero(outside))
    elif isinstance(profile, CategoricalProfile):
        tally.missing += values.count(None)


def _split_verdicts(
    closed: list[WindowRecord], verdicts: Sequence[tuple[str | None, Verdict]]
) -> None:
    """A batch's verdicts are its closed windows', one equal run after another."""
    if not closed:
        return
    per_window, rest = divmod(len(verdicts), len(closed))
    if rest:
        raise DriftlineError(f"report: {len(verdicts)} verdicts for {len(closed)} windows")
    for k, window in enumerate(closed):
        window.judgements = [
            Judgement(name, _RULE_OF.get(v.detector, v.detector), v.detector, v.statistic,
                      v.value, v.threshold)
            for name, v in verdicts[k * per_window : (k + 1) * per_window]
        ]  # fmt: skip


def _performance_point(monitor: PerformanceMonitor) -> PerformancePoint:
    metrics = monitor.metrics()
    fairness: dict[str, dict[str, float]] = {}
    for attribute, window in monitor.fairness.items():
        judged = window.judge()
        fairness[attribute] = {
            "disparate_impact_ratio": judged.disparate_impact_ratio,
            "demographic_parity_difference": judged.demographic_parity_difference,
            "equal_opportunity_difference": judged.equal_opportunity_difference,
            **{f"selection rate: {g}": r.selection_rate for g, r in window.groups().items()},
        }
    bounds = {a: w.policy.min_disparate_impact for a, w in monitor.fairness.items()}
    return PerformancePoint(monitor.labels_seen, monitor.evaluations, metrics["window"],
                            metrics["reference"], fairness, bounds)  # fmt: skip
