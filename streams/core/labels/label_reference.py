"""The performance a model version is held to: its reference metrics and their uncertainty.

Either learned from the stream's first ``reference_labels`` labelled predictions, or given
up front from a labelled validation set (``driftline profile ... --labels FILE`` stores it
with the profile under ``"labels"``). Plain, versioned data either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from streams.core import plain_data as check
from streams.core.contract.spec import ModelSpec
from streams.core.labels.calibration import CalibrationReference
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.labelled_columns import labelled_columns, usable
from streams.core.labels.metric_estimates import Estimate
from streams.core.labels.performance import ClassificationWindow, RegressionWindow
from streams.core.labels.placements import PlacementReference

__all__ = ["LabelReference", "validation_reference"]

REFERENCE_VERSION = 1
Task = Literal["classification", "regression"]
_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "regression": ("mae", "rmse"),
}


@dataclass(frozen=True, slots=True)
class LabelReference:
    """Reference metric estimates of one model version.

    >>> ref = LabelReference("regression", {"mae": Estimate(1.5, 5000, 0.02),
    ...                                     "rmse": Estimate(2.0, 5000, 0.03)}, "validation")
    >>> LabelReference.from_dict(ref.to_dict()) == ref, ref.metrics()["mae"]
    (True, 1.5)
    """

    task: Task
    estimates: Mapping[str, Estimate]
    source: Literal["stream", "validation"] = "stream"
    #: The scores per class behind ROC AUC's placement values (classification, with scores).
    placements: PlacementReference | None = None
    #: Each score bin's positive rate, behind the calibration CUSUM (likewise).
    calibration: CalibrationReference | None = None

    @property
    def count(self) -> int:
        """Labels behind the reference."""
        return max((e.count for e in self.estimates.values()), default=0)

    def metrics(self) -> dict[str, float]:
        """The reference values by metric name (NaN where undefined)."""
        return {name: estimate.value for name, estimate in self.estimates.items()}

    def to_dict(self) -> dict[str, Any]:
        # "placements" and "calibration" are optional (a reference stored before they
        # existed has none).
        parts = {"placements": self.placements, "calibration": self.calibration}
        extra = {name: part.to_dict() for name, part in parts.items() if part is not None}
        return {"version": REFERENCE_VERSION, "task": self.task, "source": self.source,
                "estimates": {n: e.to_dict() for n, e in self.estimates.items()},
                **extra}  # fmt: skip

    @classmethod
    def from_dict(cls, raw: Any) -> LabelReference:
        """A reference from ``to_dict()``'s form; ``InvalidState`` if malformed."""
        data = check.version(raw, "labels reference", REFERENCE_VERSION)
        check.mapping(data, "labels reference", ("task", "source", "estimates"))
        task, source = data["task"], data["source"]
        known_task = isinstance(task, str) and task in _METRICS
        if not known_task or source not in ("stream", "validation"):
            raise check.InvalidState("labels reference: unknown task or source")
        stored = check.mapping(data["estimates"], "labels reference.estimates",
                               _METRICS[task])  # fmt: skip
        estimates = {name: Estimate.from_dict(stored[name], f"labels reference.{name}")
                     for name in _METRICS[task]}  # fmt: skip
        placements, calibration = data.get("placements"), data.get("calibration")
        if placements is not None:
            placements = PlacementReference.from_dict(placements)
        if calibration is not None:
            calibration = CalibrationReference.from_dict(calibration)
        return cls(task, estimates, source, placements, calibration)

    @classmethod
    def of_window(
        cls,
        window: ClassificationWindow | RegressionWindow,
        source: Literal["stream", "validation"],
    ) -> LabelReference:
        """The reference of a filled window: its estimates and, for classification, the
        scores behind the AUC's placement values and the calibration."""
        if isinstance(window, RegressionWindow):
            return cls("regression", window.estimates(), source)
        scored = window.scored()
        return cls("classification", window.estimates(), source,
                   PlacementReference.from_scores(*scored),
                   CalibrationReference.from_scores(*scored))  # fmt: skip


def validation_reference(spec: ModelSpec, pairs: Sequence[LabelledPrediction]) -> LabelReference:
    """The reference of a labelled validation set: its metrics over every usable pair.

    Raises ``ValueError`` if no pair is usable.

    >>> from streams.core.contract.spec import FeatureSpec
    >>> spec = ModelSpec("m", {"x": FeatureSpec("number")})
    >>> pairs = [LabelledPrediction("m", "v1", str(i), i % 2, i % 3 % 2, None, None, 0, 0)
    ...          for i in range(600)]
    >>> reference = validation_reference(spec, pairs)
    >>> reference.source, reference.count, round(reference.metrics()["accuracy"], 3)
    ('validation', 600, 0.5)
    """
    kept = [pair for pair in pairs if usable(spec, pair)]
    if not kept:
        raise ValueError("no labelled pair to build a reference from")
    window_type = RegressionWindow if spec.task == "regression" else ClassificationWindow
    window = window_type(window_events=len(kept))
    window.add(**labelled_columns(spec, kept))
    return LabelReference.of_window(window, "validation")
