"""One segment's monitor: a ``ModelMonitor`` fed its rows of the global chunk's columns."""

from __future__ import annotations

from collections.abc import Sequence

from streams.core.contract.columns import Columns
from streams.core.contract.event import PredictionEvent
from streams.core.drift.model_monitor import ModelMonitor
from streams.core.drift.outcome import BatchOutcome

__all__ = ["SegmentMonitor"]


class SegmentMonitor(ModelMonitor):
    """A ``ModelMonitor`` whose columns are given, not extracted from the events again.

    The global monitor has already made the chunk's columns (PII hashed, score and
    prediction added) under the same spec and policy; ``feed`` hands a segment its rows of
    them, which ``process`` takes in order, slice by slice, instead of reading each event's
    features a second time (that read was half the cost of watching segments).
    """

    _given: Columns | None = None
    _cursor = 0

    def feed(
        self,
        columns: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> BatchOutcome:
        """``process`` of ``events``, whose columns (in order) are ``columns``."""
        self._given, self._cursor = columns, 0
        try:
            return self.process(events, positions)
        finally:
            self._given = None

    def _columns(self, events: Sequence[PredictionEvent]) -> Columns:
        given = self._given
        if given is None:
            return super()._columns(events)
        rows = slice(self._cursor, self._cursor + len(events))
        self._cursor = rows.stop
        categorical = {name: values[rows] for name, values in given.categorical.items()}
        return Columns(given.numeric_names, given.numeric[rows], categorical)
