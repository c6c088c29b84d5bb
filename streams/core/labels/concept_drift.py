"""Concept drift: the model's error rate rises although its inputs may look the same.

Drift detectors (ours, step for step equal to river's, with plain-number state) read the
stream of errors (1 where the label disagreed with the
prediction). ADWIN is the default: on a stationary 10% error stream EDDM at its defaults
fired five times in 3,000 labels, and DDM now and then over 20,000. A detection counts only
when the recent error rate also sits ``min_rise`` above the reference error rate (the first
``reference_events`` labels), which also keeps ADWIN, which detects falls too, from calling
a model that got better an alert.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.online.adwin import ADWIN
from streams.core.online.ddm import DDM
from streams.core.online.eddm import EDDM

__all__ = ["ErrorDetectorName", "ErrorRateDrift"]

ErrorDetectorName = Literal["adwin", "ddm", "eddm"]
_DETECTORS: dict[str, type[ADWIN] | type[DDM] | type[EDDM]] = {
    "adwin": ADWIN, "ddm": DDM, "eddm": EDDM
}  # fmt: skip


class ErrorRateDrift:
    """A drift detector on the error stream, with the reference error rate.

    Parameters
    ----------
    detector
        ``"adwin"``, ``"ddm"`` or ``"eddm"``, each at river's defaults but ADWIN's ``delta``.
    reference_events
        Labels whose error rate is the reference.
    min_rise
        How far above the reference the recent error rate must be for a detection to count.
    recent_events
        Span of the exponentially weighted recent error rate.
    delta
        ADWIN's significance of a cut (the monitor sets it from its false-alarm budget,
        ``AlertBudget.adwin_delta``); river's default 0.002 cuts a long stationary stream
        now and then.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> drift = ErrorRateDrift(reference_events=1000)
    >>> drift.update(rng.random(3000) > 0.1)  # 10% errors
    >>> drift.drift_detected
    False
    >>> drift.update(rng.random(1000) > 0.3)  # 30% errors
    >>> drift.drift_detected, round(drift.reference_error_rate, 2)
    (True, 0.1)
    """

    # 2: the detector as plain numbers (1 pickled river's detector and is refused).
    SNAPSHOT_VERSION: ClassVar[int] = 2

    def __init__(
        self,
        *,
        detector: ErrorDetectorName = "adwin",
        reference_events: int = 1000,
        min_rise: float = 0.05,
        recent_events: int = 500,
        delta: float = 0.002,
    ) -> None:
        if detector not in _DETECTORS:
            raise ValueError(f"detector must be one of {sorted(_DETECTORS)}, got {detector!r}")
        if reference_events < 1 or recent_events < 1 or not 0 <= min_rise < 1:
            raise ValueError("reference_events, recent_events >= 1 and 0 <= min_rise < 1")
        self.detector = detector
        self.reference_events = reference_events
        self.min_rise = min_rise
        self.recent_events = recent_events
        self.delta = delta
        self._river = ADWIN(delta=delta) if detector == "adwin" else _DETECTORS[detector]()
        self._reference_errors = 0
        self._reference_count = 0
        self._recent = float("nan")
        self._detected = False

    @property
    def reference_error_rate(self) -> float:
        """Error rate of the reference labels; NaN until there are any."""
        if self._reference_count == 0:
            return float("nan")
        return self._reference_errors / self._reference_count

    @property
    def recent_error_rate(self) -> float:
        return self._recent

    @property
    def rise(self) -> float:
        """Recent minus reference error rate: the statistic an alert reports."""
        return self._recent - self.reference_error_rate

    @property
    def drift_detected(self) -> bool:
        """Whether the last update detected a rise of the error rate past ``min_rise``."""
        return self._detected

    def update(self, correct: np.ndarray) -> None:
        """Feed one batch of labels: ``correct[i]`` says whether prediction i was right."""
        errors = ~np.asarray(correct, dtype=bool)
        taken = min(len(errors), self.reference_events - self._reference_count)
        if taken > 0:
            self._reference_errors += int(errors[:taken].sum())
            self._reference_count += taken
        detections = 0
        river_update: Callable[[Any], None] = self._river.update
        binary = self.detector != "adwin"
        for error in errors.tolist():  # the detectors take one value at a time
            river_update(error if binary else float(error))
            detections += self._river.drift_detected
        self._recent = _ewm(self._recent, errors, 2 / (self.recent_events + 1))
        full = self._reference_count >= self.reference_events
        self._detected = bool(detections) and full and self.rise >= self.min_rise

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state: the detector as plain numbers, the reference, the recent rate."""
        return {
            "version": self.SNAPSHOT_VERSION,
            "detector": self.detector,
            "state": self._river.snapshot(),
            "reference": [self._reference_errors, self._reference_count],
            "recent": None if np.isnan(self._recent) else self._recent,
        }

    @classmethod
    def restore(cls, snapshot: Any, **params: Any) -> Self:
        """A drift built with ``params`` (the constructor's keywords) continuing from
        ``snapshot``; ``InvalidState`` if it is malformed, of another detector or version
        (the pickled format of version 1 is refused, never loaded)."""
        raw = check.version(snapshot, "concept", cls.SNAPSHOT_VERSION)
        check.mapping(raw, "concept", ("detector", "state", "reference", "recent"))
        drift = cls(**params)
        if raw["detector"] != drift.detector:
            raise check.InvalidState("concept.detector: snapshot of another detector")
        detector = _DETECTORS[drift.detector].restore(raw["state"])
        if detector.snapshot()["params"] != drift._river.snapshot()["params"]:
            raise check.InvalidState("concept.state: taken with other parameters")
        errors, count = check.listing(raw["reference"], "concept.reference", length=2)
        count = check.integer(count, "concept.reference_count", high=drift.reference_events)
        errors = check.integer(errors, "concept.reference_errors", high=count)
        recent = check.optional(check.number, raw["recent"], "concept.recent", low=0, high=1)
        drift._river = detector
        drift._reference_errors, drift._reference_count = errors, count
        drift._recent = math.nan if recent is None else recent
        return drift


def _ewm(start: float, values: np.ndarray, alpha: float) -> float:
    """Exponentially weighted mean after ``values``, in closed form rather than a loop;
    without history it starts at the first value, so batch sizes do not change it."""
    if np.isnan(start):
        if len(values) == 0:
            return start
        start, values = float(values[0]), values[1:]
    n = len(values)
    weights = alpha * (1 - alpha) ** np.arange(n - 1, -1, -1)
    return float((1 - alpha) ** n * start + weights @ values)
