"""The drift checks of one model version per segment: one monitor per segment value.

For each attribute the spec names in ``segments``, the first ``reference_events`` events
after the global reference settle which values are watched on their own: the
``segments_top_k`` most frequent (Space-Saving, bounded memory, ties by value); every other
value, and a missing one, is pooled as "other". The set stays fixed after that, so a
segment's reference and episodes are never dropped for churn (a value that grows big later
is judged inside "other"). Each segment then learns its reference from its own first
``reference_events`` events (``SegmentReference``, on the global bins) and is watched by a
``ModelMonitor`` of its own, with windows of ``window_events`` of its events and its
detectors' thresholds raised to ``1 / parts`` of the false-alarm budget, ``parts`` being
every segment of every attribute (``budget.split_configs``). The global monitor goes on as
before; segment alerts carry ``segment`` and are otherwise alerts like any.

A PII attribute's values are hashed (``PiiPolicy``) before they are counted or kept, so
state and alerts hold the keyed hash only; in ``drop`` mode a PII attribute is not
segmented. Memory: at most ``attributes x (top_k + 1)`` monitors, each of the features'
size. Verdicts of segments are not returned (metrics stay labelled by feature, never by
segment value); their alerts are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from streams.core import plain_data as check
from streams.core.alerts.alert import Alert, Segment
from streams.core.contract.columns import Columns, category_of
from streams.core.contract.event import PredictionEvent
from streams.core.detectors.anomaly_rate import AnomalyRate
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.profile import ReferenceProfile
from streams.core.errors import InvalidState
from streams.core.segments.budget import split_configs
from streams.core.segments.segment_monitor import SegmentMonitor
from streams.core.segments.segment_reference import SegmentReference
from streams.core.segments.segment_values import SNAPSHOT_KEYS, SegmentValues

__all__ = ["OTHER", "SegmentMonitors", "tagged"]

#: The value alerts name for the pooled rest of an attribute's values.
OTHER = "other"

#: (attribute, value); value None is the pooled rest.
SegmentKey = tuple[str, str | None]


class SegmentMonitors:
    """Per-segment monitors of one model version, fed the chunks its global monitor judges.

    Built from the global ``monitor`` (watching: its profile is the reference segments
    count their own on): its spec, version, config and PII policy.
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, monitor: ModelMonitor) -> None:
        spec, config, pii = monitor.spec, monitor.config, monitor.pii
        if monitor.profile is None:
            raise ValueError("segments are watched once the global reference exists")
        self.model_version, self.profile, self.pii = monitor.model_version, monitor.profile, pii
        self.spec = dataclasses.replace(spec, segments=())
        self.attributes = tuple(
            a for a in spec.segments if a not in spec.pii_attributes or pii.hashes
        )
        self.top_k = spec.segments_top_k
        self.parts = max(1, len(self.attributes) * (self.top_k + 1))
        detectors = config.detectors.overridden({AnomalyRate.name: {"enabled": False}})
        self.config = dataclasses.replace(config, detectors=split_configs(
            detectors, self.parts, window_events=config.window_events,
            reference_events=config.reference_events,
        ))  # fmt: skip
        self.settle_events = config.reference_events
        self.values = SegmentValues(self.attributes, self.top_k, self.settle_events)
        self._references: dict[SegmentKey, SegmentReference] = {}
        self.monitors: dict[SegmentKey, SegmentMonitor] = {}

    @property
    def settled(self) -> dict[str, frozenset[str]] | None:
        """The values watched on their own, per attribute, once settled."""
        return self.values.settled

    def add(
        self,
        chunk: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> list[Alert]:
        """Feed a chunk the global monitor judged (its columns, events and positions, in
        stream order); return the segments' alerts."""
        values = {a: self._values(events, a) for a in self.attributes}
        start = self.values.settle(values, len(events))
        alerts: list[Alert] = []
        for attribute, column in values.items():
            for value, rows in self.values.groups(attribute, column, start).items():
                alerts += self._feed((attribute, value), rows, chunk, events, positions)
        return alerts

    def _values(self, events: Sequence[PredictionEvent], attribute: str) -> list[str | None]:
        of = self.pii.redact if attribute in self.spec.pii_attributes else category_of
        return [of(None if e.attributes is None else e.attributes.get(attribute)) for e in events]

    def _feed(
        self,
        key: SegmentKey,
        rows: list[int],
        chunk: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> list[Alert]:
        monitor = self.monitors.get(key)
        if monitor is None:
            reference = self._references.setdefault(key, SegmentReference(self.profile))
            learn, rows = (
                rows[: self.settle_events - reference.count],
                rows[self.settle_events - reference.count :],
            )
            reference.add(_rows(chunk, learn))
            if reference.count < self.settle_events:
                return []
            monitor = self.monitors[key] = self._monitor(reference.profile_of())
        if not rows:
            return []
        outcome = monitor.feed(
            _rows(chunk, rows), [events[i] for i in rows], [positions[i] for i in rows]
        )
        segment = Segment(key[0], OTHER if key[1] is None else key[1])
        return [tagged(alert, segment) for alert in outcome.alerts]

    def _monitor(self, profile: ReferenceProfile, snapshot: Any = None) -> SegmentMonitor:
        if snapshot is None:
            monitor = SegmentMonitor(
                self.spec, self.model_version, self.config, profile, pii=self.pii
            )
        else:
            monitor = SegmentMonitor.restore(
                snapshot, self.spec, self.model_version, self.config,
                profile=profile.to_dict(), reference=[], pii=self.pii,
            )  # fmt: skip
        monitor.label_free = None  # a global estimate; per segment it would only cost
        return monitor

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.values.snapshot(),
            "segments": [
                [*key, reference.snapshot(), _monitor_snapshot(self.monitors.get(key))]
                for key, reference in self._references.items()
            ],
        }

    @classmethod
    def restore(cls, snapshot: Any, monitor: ModelMonitor) -> Self:
        """Continue from ``snapshot()``; ``InvalidState`` for anything malformed. State
        taken under other segment attributes or another top K (the spec changed) is set
        aside: the segments start afresh, the global monitor goes on."""
        with check.restoring("segment monitors"):
            return cls._restore(snapshot, monitor)

    @classmethod
    def _restore(cls, snapshot: Any, monitor: ModelMonitor) -> Self:
        raw = check.mapping(snapshot, "segments", (*SNAPSHOT_KEYS, "segments"))
        monitors = cls(monitor)
        values = SegmentValues.restore(raw, monitors.attributes, monitors.top_k,
                                       monitors.settle_events)  # fmt: skip
        if values is None:
            return monitors  # the spec's segments changed since: they start afresh
        monitors.values = values
        stored = check.listing(raw["segments"], "segments.segments", max_length=monitors.parts)
        for item in stored:
            monitors._restore_segment(item)
        return monitors

    def _restore_segment(self, item: Any) -> None:
        attribute, value, reference, monitor = check.listing(item, "segments[]", length=4)
        if attribute not in self.attributes or self.values.settled is None:
            raise InvalidState("segments: a segment of an attribute not watched")
        key = (attribute, check.optional(check.text, value, "segments.value", max_length=256))
        restored = self._references[key] = SegmentReference.restore(reference, self.profile)
        if monitor is not None:
            self.monitors[key] = self._monitor(restored.profile_of(), monitor)


def _monitor_snapshot(monitor: SegmentMonitor | None) -> dict[str, Any] | None:
    return None if monitor is None else monitor.snapshot()


def _rows(chunk: Columns, rows: list[int]) -> Columns:
    return Columns(
        chunk.numeric_names,
        chunk.numeric[rows],
        {name: [values[i] for i in rows] for name, values in chunk.categorical.items()},
    )


def tagged(alert: Alert, segment: Segment) -> Alert:
    where = f"{segment.attribute}={segment.value}"
    return dataclasses.replace(alert, segment=segment, message=f"{where}: {alert.message}")
