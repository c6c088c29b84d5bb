"""The performance checks of one model version per segment, once labels arrive.

For each attribute the spec names in ``segments`` (read from the joined pairs' kept
attributes, PII ones already hashed), the first ``reference_labels`` usable labels settle
which values are watched on their own: the ``segments_top_k`` with the most labels
(``segments.top_k``, Space-Saving, bounded memory); every other value, and a missing one,
is pooled as "other", and the set stays fixed (as on the drift side,
``segments/segment_monitors.py``). Each segment is then judged by a ``PerformanceMonitor``
of its own that learns its reference from its own first labels, with ``1 / parts`` of the
false-alarm budget, ``parts`` being every segment of every attribute: its ``alpha`` is
divided, so the window checks' critical values, ADWIN's delta and the ROC AUC CUSUM's ``h``
(``online.siegmund`` at the smaller alpha) all follow from ``alert_budget``. Segment alerts
carry ``segment``; fairness stays global, and a segment's retraining evidence is dropped
(the global monitor decides retraining). Memory: at most ``attributes x (top_k + 1)``
monitors, each of one monitor's size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from streams.core import plain_data as check
from streams.core.alerts.alert import Alert, Segment
from streams.core.contract.columns import category_of
from streams.core.contract.spec import ModelSpec
from streams.core.errors import InvalidState
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.labelled_columns import usable
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from streams.core.segments.segment_monitors import OTHER, tagged
from streams.core.segments.segment_values import SNAPSHOT_KEYS, SegmentValues

__all__ = ["SegmentPerformance", "SegmentedPerformanceMonitor"]

#: (attribute, value); value None is the pooled rest.
SegmentKey = tuple[str, str | None]
Positioned = list[tuple[LabelledPrediction, tuple[int, int]]]


class SegmentPerformance:
    """Per-segment performance monitors of one model version (see the module docstring)."""

    SNAPSHOT_VERSION: ClassVar[None] = None  # a part of its performance monitor's state

    def __init__(self, spec: ModelSpec, model_version: str, config: PerformanceConfig) -> None:
        self.attributes, self.top_k = spec.segments, spec.segments_top_k
        self.model_version = model_version
        self.parts = max(1, len(self.attributes) * (self.top_k + 1))
        self.spec = dataclasses.replace(spec, segments=(), fairness=())
        self.config = dataclasses.replace(config, alpha=config.alpha / self.parts)
        self.settle_labels = config.reference_labels
        self.values = SegmentValues(self.attributes, self.top_k, self.settle_labels)
        self.monitors: dict[SegmentKey, PerformanceMonitor] = {}

    @property
    def settled(self) -> dict[str, frozenset[str]] | None:
        """The values watched on their own, per attribute, once settled."""
        return self.values.settled

    def process(
        self, pairs: Sequence[LabelledPrediction], positions: Sequence[tuple[int, int]]
    ) -> list[Alert]:
        """Take the batch its global monitor took; return the segments' alerts."""
        kept = [(p, at) for p, at in zip(pairs, positions, strict=True) if usable(self.spec, p)]
        values = {a: [_value(p, a) for p, _ in kept] for a in self.attributes}
        start = self.values.settle(values, len(kept))
        alerts: list[Alert] = []
        for attribute, column in values.items():
            for value, rows in self.values.groups(attribute, column, start).items():
                alerts += self._feed((attribute, value), [kept[row] for row in rows])
        return alerts

    def _feed(self, key: SegmentKey, group: Positioned) -> list[Alert]:
        monitor = self.monitors.get(key)
        if monitor is None:
            monitor = self.monitors[key] = self._monitor()
        alerts = monitor.process([p for p, _ in group], [at for _, at in group])
        monitor.take_retrain_requests()  # the global monitor decides retraining
        segment = Segment(key[0], OTHER if key[1] is None else key[1])
        return [tagged(alert, segment) for alert in alerts]

    def _monitor(self, snapshot: Any = None) -> PerformanceMonitor:
        if snapshot is None:
            return PerformanceMonitor(self.spec, self.model_version, self.config)
        return PerformanceMonitor.restore(snapshot, self.spec, self.model_version, self.config)

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.values.snapshot(),
            "segments": [[*key, m.snapshot()] for key, m in self.monitors.items()],
        }

    @classmethod
    def restore(
        cls, snapshot: Any, spec: ModelSpec, model_version: str, config: PerformanceConfig
    ) -> Self:
        """Continue from ``snapshot()``; ``InvalidState`` for anything malformed. State
        taken under other segment attributes or another top K starts afresh."""
        with check.restoring("segment performance"):
            return cls._restore(snapshot, spec, model_version, config)

    @classmethod
    def _restore(
        cls, snapshot: Any, spec: ModelSpec, model_version: str, config: PerformanceConfig
    ) -> Self:
        raw = check.mapping(snapshot, "segments", (*SNAPSHOT_KEYS, "segments"))
        segments = cls(spec, model_version, config)
        values = SegmentValues.restore(raw, segments.attributes, segments.top_k,
                                       segments.settle_labels)  # fmt: skip
        if values is None:
            return segments  # the spec's segments changed since: they start afresh
        segments.values = values
        stored = check.listing(raw["segments"], "segments.segments", max_length=segments.parts)
        for item in stored:
            attribute, value, monitor = check.listing(item, "segments[]", length=3)
            if attribute not in segments.attributes or segments.values.settled is None:
                raise InvalidState("segments: a segment of an attribute not watched")
            key = (attribute, check.optional(check.text, value, "segments.value", max_length=256))
            segments.monitors[key] = segments._monitor(monitor)
        return segments


class SegmentedPerformanceMonitor(PerformanceMonitor):
    """A ``PerformanceMonitor`` whose spec has ``segments``: it also feeds every batch to
    its ``SegmentPerformance``, and stores its state with its own."""

    def __init__(
        self,
        spec: ModelSpec,
        model_version: str,
        config: PerformanceConfig,
        reference: LabelReference | None = None,
    ) -> None:
        super().__init__(spec, model_version, config, reference)
        self.segments = SegmentPerformance(spec, model_version, config)

    def process(
        self, pairs: Sequence[LabelledPrediction], positions: Sequence[tuple[int, int]]
    ) -> list[Alert]:
        alerts = super().process(pairs, positions)
        return alerts + self.segments.process(pairs, positions)

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "segments": self.segments.snapshot()}

    @classmethod
    def restore(
        cls,
        snapshot: Any,
        spec: ModelSpec,
        model_version: str,
        config: PerformanceConfig,
        reference: LabelReference | None = None,
    ) -> Self:
        """``PerformanceMonitor.restore``, and the segments' state when it was stored."""
        monitor = super().restore(snapshot, spec, model_version, config, reference)
        stored = snapshot.get("segments")
        if stored is not None:
            monitor.segments = SegmentPerformance.restore(stored, spec, model_version, config)
        return monitor


def _value(pair: LabelledPrediction, attribute: str) -> str | None:
    return category_of(None if pair.attributes is None else pair.attributes.get(attribute))
