"""Which input features drifted lately: explaining a prediction drift or a performance alert.

When the model's outputs or its performance move, the first question is which inputs moved
with them. Each closed window leaves here its features whose verdict was over the threshold
(the detector furthest over, by ``value / threshold``, as NannyML's ranker orders features
by their alert strength); an alert is explained by the features drifted in the drift window
it falls in and the one before, ranked by that ratio.

Memory is bounded: the last ``keep`` windows, and at most ``TOP_DRIFTED`` features of each.
A prediction drift alert is judged when its window closes (the newest two windows); a
performance alert comes later, when labels arrive, so it looks up the drift window holding
the end of its own window (the newest prediction it judged) and the one before that.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple, Self

from streams.core import plain_data as check
from streams.core.alerts.alert import Explanation
from streams.core.detectors.base import Verdict

__all__ = ["TOP_DRIFTED", "DriftedFeatures"]

#: Features kept per window and named per explanation.
TOP_DRIFTED = 5


class _Window(NamedTuple):
    start_ms: int
    end_ms: int
    #: (feature, detector, statistic / threshold), the largest ratio first
    drifted: tuple[tuple[str, str, float], ...]


class DriftedFeatures:
    """The drifted features of the last ``keep`` windows of one model version.

    Examples
    --------
    >>> from streams.core.detectors.base import Verdict
    >>> drifted = DriftedFeatures()
    >>> drifted.record(0, 999, [("feature", "x", Verdict("psi", "psi", 0.5, 0.2))])
    >>> drifted.record(1000, 1999, [("feature", "y", Verdict("psi", "psi", 0.3, 0.2)),
    ...                             ("feature", "x", Verdict("psi", "psi", 0.1, 0.2))])
    >>> [(n, round(c, 2), d["windows"]) for n, c, d in drifted.latest().features]
    [('x', 2.5, ['previous']), ('y', 1.5, ['same'])]
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, keep: int = 8) -> None:
        if keep < 2:
            raise ValueError("keep must be at least 2")
        self.keep = keep
        self._windows: deque[_Window] = deque(maxlen=keep)

    def record(
        self, start_ms: int, end_ms: int, judged: Iterable[tuple[str, str | None, Verdict]]
    ) -> None:
        """A closed window's verdicts, as (column kind, column name, verdict)."""
        best: dict[str, tuple[str, float]] = {}
        for kind, name, verdict in judged:
            if kind != "feature" or name is None or not verdict.threshold > 0:
                continue
            ratio = verdict.value / verdict.threshold
            if ratio > 1 and ratio > best.get(name, ("", 0.0))[1]:
                best[name] = (verdict.detector, ratio)
        ranked = sorted(best.items(), key=lambda item: (-item[1][1], item[0]))[:TOP_DRIFTED]
        drifted = tuple((name, detector, ratio) for name, (detector, ratio) in ranked)
        self._windows.append(_Window(start_ms, end_ms, drifted))

    def latest(self) -> Explanation | None:
        """The features drifted in the newest window and the one before (None: none)."""
        return self._explain(len(self._windows) - 1)

    def at(self, time_ms: int) -> Explanation | None:
        """The features drifted in the newest window starting at or before ``time_ms`` and
        the one before it (None: none, or no such window kept)."""
        where = [i for i, w in enumerate(self._windows) if w.start_ms <= time_ms]
        return self._explain(where[-1]) if where else None

    def _explain(self, index: int) -> Explanation | None:
        if index < 0:
            return None
        found: dict[str, tuple[float, str, list[str]]] = {}
        previous = self._windows[index - 1] if index else None
        for label, window in (("same", self._windows[index]), ("previous", previous)):
            for name, detector, ratio in () if window is None else window.drifted:
                ratio_, detector_, windows = found.get(name, (0.0, detector, []))
                if ratio > ratio_:
                    ratio_, detector_ = ratio, detector
                found[name] = (ratio_, detector_, [*windows, label])
        if not found:
            return None
        ranked = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))[:TOP_DRIFTED]
        features = tuple(
            (name, ratio, {"detector": detector, "windows": windows})
            for name, (ratio, detector, windows) in ranked
        )
        return Explanation("drift_ratio", features)

    def snapshot(self) -> dict[str, Any]:
        return {"windows": [[w.start_ms, w.end_ms, [list(d) for d in w.drifted]]
                            for w in self._windows]}  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any, keep: int = 8) -> Self:
        raw = check.mapping(snapshot, "drifted", ("windows",))
        drifted = cls(keep)
        for item in check.listing(raw["windows"], "drifted.windows", max_length=keep):
            start, end, features = check.listing(item, "drifted.windows[]", length=3)
            kept = []
            for feature in check.listing(features, "drifted.features", max_length=TOP_DRIFTED):
                name, detector, ratio = check.listing(feature, "drifted.feature", length=3)
                kept.append((check.text(name, "drifted.name"),
                             check.text(detector, "drifted.detector"),
                             check.number(ratio, "drifted.ratio", low=0.0)))  # fmt: skip
            start, end = check.integer(start, "drifted.start"), check.integer(end, "drifted.end")
            drifted._windows.append(_Window(start, end, tuple(kept)))
        return drifted
