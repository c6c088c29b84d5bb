"""A model version's monitor that also watches the segments its spec names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from streams.core.alerts.alert import Alert
from streams.core.contract.columns import Columns
from streams.core.contract.event import PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import ModelSpec
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.drift.profile import ReferenceProfile
from streams.core.segments.segment_monitors import SegmentMonitors

__all__ = ["SegmentedModelMonitor"]


class SegmentedModelMonitor(ModelMonitor):
    """A ``ModelMonitor`` whose spec has ``segments``: once the global reference exists, it
    feeds every chunk it judges to its ``SegmentMonitors`` (their alerts come before the
    abuse tracker's) and stores their state with its own, under ``"segments"``.

    ``Monitor`` builds this kind for a spec with segments, the plain one otherwise; so
    segments the spec stops naming are dropped, and ones it starts naming start afresh.
    """

    #: The per-segment monitors, once the global reference exists.
    segments: SegmentMonitors | None = None

    def snapshot(self) -> dict[str, Any]:
        snapshot = super().snapshot()
        if self.segments is not None:
            snapshot["segments"] = self.segments.snapshot()
        return snapshot

    @classmethod
    def restore(
        cls,
        snapshot: Any,
        spec: ModelSpec,
        model_version: str,
        config: MonitorConfig,
        *,
        profile: dict[str, Any] | None,
        reference: list[dict[str, Any]],
        pii: PiiPolicy | None = None,
    ) -> Self:
        """``ModelMonitor.restore``, and the segments' state where it was stored."""
        monitor = super().restore(snapshot, spec, model_version, config,
                                  profile=profile, reference=reference, pii=pii)  # fmt: skip
        if monitor.segments is not None and "segments" in snapshot:
            monitor.segments = SegmentMonitors.restore(snapshot["segments"], monitor)
        return monitor

    def _start_watching(self, profile: ReferenceProfile) -> None:
        super()._start_watching(profile)
        self.segments = SegmentMonitors(self)

    def _side_checks(
        self,
        chunk: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> list[Alert]:
        assert self.segments is not None  # watching: the chunk was judged
        segmented = self.segments.add(chunk, events, positions)
        return segmented + super()._side_checks(chunk, events, positions)
