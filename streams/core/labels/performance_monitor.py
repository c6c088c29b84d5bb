"""What one model version's labels say: performance, concept drift and fairness, with alerts.

Fed joined (prediction, label) pairs in micro-batches, in label arrival order. The first
``reference_labels`` pairs are the reference: the metric values later windows are held
against. Every ``evaluate_every`` labels the current window is judged, once it holds
``min_labels`` pairs: a classification metric (accuracy, F1, ROC AUC) that fell more than
``max_drop`` below the reference, or a regression error (MAE, RMSE) that rose more than
``max_error_rise`` over it, fires a ``performance`` alert; a rise of the error rate caught
by river (``ErrorRateDrift``) a ``concept_drift`` alert; a fairness bound broken on enough
data a ``fairness`` alert. Each is one episode with the same hysteresis and cooldown as
drift alerts. A performance or concept-drift episode that persists ``retrain_after``
evaluations yields one retraining request, then none for ``retrain_cooldown`` evaluations
(``retraining.RetrainingPolicy``). Every model version of a stream: ``performance_monitors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.alerts.alert import Alert, Trigger, Window
from streams.core.alerts.alert_rule import AlertRule, RuleState
from streams.core.alerts.retrain_request import RetrainRequest, finite
from streams.core.contract.columns import category_of
from streams.core.contract.spec import ModelSpec
from streams.core.labels.concept_drift import ErrorDetectorName, ErrorRateDrift
from streams.core.labels.fairness import FairnessWindow, confident_gaps
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.performance import ClassificationWindow, RegressionWindow
from streams.core.labels.performance_verdict import PerformanceVerdict
from streams.core.labels.retraining import RetrainingPolicy

__all__ = ["PerformanceConfig", "PerformanceMonitor"]

_WATCHED = {"classification": ("accuracy", "f1", "roc_auc"), "regression": ("mae", "rmse")}
_SAMPLE = 5


@dataclass(frozen=True, slots=True)
class PerformanceConfig:
    """Windows, margins and the retraining policy (see the module docstring)."""

    window_labels: int = 1000
    reference_labels: int = 1000
    evaluate_every: int = 250
    min_labels: int = 200
    max_drop: float = 0.05
    max_error_rise: float = 0.2
    time_window_s: int = 3600
    concept_detector: ErrorDetectorName = "adwin"
    retrain_after: int = 3
    retrain_cooldown: int = 20
    rule: AlertRule = field(default_factory=AlertRule)

    def __post_init__(self) -> None:
        counts = (self.window_labels, self.reference_labels, self.evaluate_every,
                  self.min_labels, self.time_window_s, self.retrain_after)  # fmt: skip
        if min(counts) < 1 or self.retrain_cooldown < 0:
            raise ValueError("label counts, windows and retrain_after must be positive")
        if not (0 < self.max_drop < 1 and self.max_error_rise > 0):
            raise ValueError("max_drop must be in (0, 1) and max_error_rise positive")
        if self.min_labels > self.window_labels:
            raise ValueError("min_labels cannot exceed window_labels")


class PerformanceMonitor:
    """Labels of one model version: windows, reference, detectors and alert rules."""

    # 2: the concept-drift detector as plain numbers (1 held a pickle and is refused).
    SNAPSHOT_VERSION: ClassVar[int] = 2

    def __init__(self, spec: ModelSpec, model_version: str, config: PerformanceConfig) -> None:
        self.spec = spec
        self.model_version = model_version
        self.config = config
        self.regression = spec.task == "regression"
        self._positive = spec.positive_classes
        window_type = RegressionWindow if self.regression else ClassificationWindow
        self.window = window_type(window_events=config.window_labels)
        self._reference = window_type(window_events=config.reference_labels)
        self.reference_metrics: dict[str, float] | None = None
        self.concept = ErrorRateDrift(detector=config.concept_detector,
                                      reference_events=config.reference_labels)  # fmt: skip
        self.fairness = {p.attribute: FairnessWindow(p) for p in spec.fairness}
        self.labels_seen = self.unusable = self.evaluations = 0
        self._since_evaluation = 0
        self._concept_detected = False
        self._rules: dict[str, RuleState] = {}
        self.retraining = RetrainingPolicy(spec.model_id, model_version,
                                           after=config.retrain_after,
                                           cooldown=config.retrain_cooldown)  # fmt: skip
        self._tail: list[dict[str, Any]] = []

    def process(
        self, pairs: Sequence[LabelledPrediction], positions: Sequence[tuple[int, int]]
    ) -> list[Alert]:
        """Take a batch of labelled predictions; return the alerts it raised or resolved.

        Evaluations fall every ``evaluate_every`` labels whatever the batch sizes, so the
        worker and ``replay`` judge the same windows.
        """
        usable = [(p, at) for p, at in zip(pairs, positions, strict=True) if self._usable(p)]
        self.unusable += len(pairs) - len(usable)
        alerts: list[Alert] = []
        start = 0
        while start < len(usable):
            room = self.config.evaluate_every - self._since_evaluation
            part = usable[start : start + room]
            start += len(part)
            self._take(part)
            if self._since_evaluation >= self.config.evaluate_every:
                self._since_evaluation = 0
                alerts += self._evaluate()
        return alerts

    def _take(self, usable: list[tuple[LabelledPrediction, tuple[int, int]]]) -> None:
        kept = [p for p, _ in usable]
        columns = self._columns(kept)
        self._learn_reference(columns)
        self.window.add(**columns)
        correct = self._correct(columns)
        if correct is not None:
            self.concept.update(correct)
            self._concept_detected |= self.concept.drift_detected
        if not self.regression:
            for attribute, window in self.fairness.items():
                groups = [None if p.attributes is None else p.attributes.get(attribute)
                          for p in kept]  # fmt: skip
                window.add([None if g is None else category_of(g) for g in groups],
                           columns["predicted_positive_class"],
                           columns["true_positive_class"])  # fmt: skip
        self.labels_seen += len(kept)
        self._since_evaluation += len(kept)
        self._remember(usable)

    def metrics(self) -> dict[str, dict[str, float]]:
        """Realised metrics: the count window, the time window and the reference."""
        newest = self._tail[-1]["predicted_at_ms"] if self._tail else 0
        since = newest - self.config.time_window_s * 1000
        return {
            "window": self.window.metrics(),
            "recent": self.window.metrics(since_ms=since),
            "reference": dict(self.reference_metrics or {}),
        }

    def snapshot(self) -> dict[str, Any]:
        """All state as JSON-safe data, for ``restore``."""
        return {
            "version": self.SNAPSHOT_VERSION,
            "window": self.window.snapshot(),
            "reference": self._reference.snapshot() if self.reference_metrics is None else None,
            "reference_metrics": None if self.reference_metrics is None
            else finite(self.reference_metrics),
            "concept": self.concept.snapshot(),
            "concept_detected": self._concept_detected,
            "fairness": {a: w.snapshot() for a, w in self.fairness.items()},
            "counts": [self.labels_seen, self.unusable, self.evaluations, self._since_evaluation],
            "rules": {rule: state.snapshot() for rule, state in self._rules.items()},
            **self.retraining.snapshot(),  # "evidence", "last_request"
            "tail": self._tail,
        }  # fmt: skip

    @classmethod
    def restore(
        cls, snapshot: Any, spec: ModelSpec, model_version: str, config: PerformanceConfig
    ) -> Self:
        """A monitor continuing from ``snapshot``; fairness policies come from ``spec``.

        Raises ``InvalidState`` for anything malformed or of another version.
        """
        with check.restoring(f"performance state of {spec.model_id}:{model_version}"):
            return cls._restore(snapshot, spec, model_version, config)

    @classmethod
    def _restore(
        cls, snapshot: Any, spec: ModelSpec, model_version: str, config: PerformanceConfig
    ) -> Self:
        raw = check.version(snapshot, "performance", cls.SNAPSHOT_VERSION)
        monitor = cls(spec, model_version, config)
        monitor.window = type(monitor.window).restore(raw["window"])
        if raw["reference"] is not None:
            monitor._reference = type(monitor._reference).restore(raw["reference"])
        stored = raw["reference_metrics"]
        if stored is not None:
            metrics = {
                check.text(k, "reference_metrics"): check.optional(check.number, v, "metric")
                for k, v in check.mapping(stored, "reference_metrics").items()
            }
            monitor.reference_metrics = {k: np.nan if v is None else v for k, v in metrics.items()}
        monitor.concept = ErrorRateDrift.restore(
            raw["concept"], detector=config.concept_detector,
            reference_events=config.reference_labels,
        )  # fmt: skip
        monitor._concept_detected = check.flag(raw["concept_detected"], "concept_detected")
        fairness = check.mapping(raw["fairness"], "fairness")
        for attribute, window in list(monitor.fairness.items()):
            if attribute in fairness:
                monitor.fairness[attribute] = FairnessWindow.restore(
                    fairness[attribute], window.policy
                )
        counts = check.listing(raw["counts"], "counts", length=4)
        (monitor.labels_seen, monitor.unusable, monitor.evaluations,
         monitor._since_evaluation) = [check.integer(c, "counts") for c in counts]  # fmt: skip
        rules = check.mapping(raw["rules"], "rules")
        monitor._rules = {check.text(r, "rules"): RuleState.restore(s) for r, s in rules.items()}
        monitor.retraining = RetrainingPolicy.restore(raw, spec.model_id, model_version,
                                                      after=config.retrain_after,
                                                      cooldown=config.retrain_cooldown)  # fmt: skip
        tail = check.listing(raw["tail"], "tail", max_length=_SAMPLE)
        for item in tail:
            check.integer(check.mapping(item, "tail[]")["predicted_at_ms"], "tail.predicted_at_ms")
        monitor._tail = [dict(item) for item in tail]
        return monitor

    def take_retrain_requests(self) -> list[RetrainRequest]:
        """The retraining requests made since the last call."""
        return self.retraining.take()

    def _usable(self, pair: LabelledPrediction) -> bool:
        if not self.regression:
            return True
        return all(type(v) in (int, float) for v in (pair.prediction, pair.label))

    def _columns(self, pairs: Sequence[LabelledPrediction]) -> dict[str, np.ndarray]:
        timestamps = np.array([p.predicted_at_ms for p in pairs], dtype=np.int64)
        if self.regression:
            predictions = np.array([p.prediction for p in pairs], dtype=float)
            labels = np.array([p.label for p in pairs], dtype=float)
            return {"error": predictions - labels, "timestamp_ms": timestamps}
        predicted = [category_of(p.prediction) for p in pairs]
        actual = [category_of(p.label) for p in pairs]
        positive = self._positive
        return {
            "correct": np.array([a == b for a, b in zip(predicted, actual, strict=True)]),
            "true_positive_class": np.array([a in positive for a in actual], dtype=bool),
            "predicted_positive_class": np.array([b in positive for b in predicted], dtype=bool),
            "score": np.array([np.nan if p.score is None else p.score for p in pairs]),
            "timestamp_ms": timestamps,
        }

    def _correct(self, columns: dict[str, np.ndarray]) -> np.ndarray | None:
        if not self.regression:
            return columns["correct"]
        # A regression "error", for concept drift: off by more than twice the reference's
        # mean absolute error (about one prediction in nine for normal errors). None until
        # the reference exists.
        mae = (self.reference_metrics or {}).get("mae", np.nan)
        if not (np.isfinite(mae) and mae > 0):
            return None
        correct: np.ndarray = np.abs(columns["error"]) <= 2 * mae
        return correct

    def _learn_reference(self, columns: dict[str, np.ndarray]) -> None:
        room = self.config.reference_labels - len(self._reference)
        if self.reference_metrics is not None or room <= 0:
            return
        self._reference.add(**{name: column[:room] for name, column in columns.items()})
        if len(self._reference) >= self.config.reference_labels:
            self.reference_metrics = self._reference.metrics()

    def _remember(self, usable: list[tuple[LabelledPrediction, tuple[int, int]]]) -> None:
        recent = [
            {"event_id": p.event_id, "prediction": p.prediction, "label": p.label,
             "score": p.score, "predicted_at_ms": p.predicted_at_ms,
             "labelled_at_ms": p.labelled_at_ms, "partition": at[0], "offset": at[1]}
            for p, at in usable[-_SAMPLE:]
        ]  # fmt: skip
        self._tail = (self._tail + recent)[-_SAMPLE:]

    def _evaluate(self) -> list[Alert]:
        index, metrics = self.evaluations, self.window.metrics()
        verdicts = self._performance_verdicts(metrics)
        for attribute, window in self.fairness.items():
            verdicts += _fairness_verdicts(attribute, window)
        self._concept_detected = False
        alerts = [a for v in verdicts if (a := self._judge(index, v, metrics)) is not None]
        self.retraining.consider(index, self._rules, metrics, dict(self.reference_metrics or {}),
                                 self._window(metrics))  # fmt: skip
        self.evaluations += 1
        return alerts

    def _performance_verdicts(self, metrics: dict[str, float]) -> list[PerformanceVerdict]:
        config = self.config
        if self.reference_metrics is None or metrics["count"] < config.min_labels:
            return []
        verdicts = []
        for name in _WATCHED["regression" if self.regression else "classification"]:
            value, reference = metrics[name], self.reference_metrics[name]
            if not (np.isfinite(value) and np.isfinite(reference)):
                continue
            if self.regression:
                rise = (value - reference) / reference if reference > 0 else 0.0
                verdicts.append(PerformanceVerdict("performance", name, None, f"{name}_rise",
                                                   rise, config.max_error_rise))  # fmt: skip
            else:
                verdicts.append(PerformanceVerdict("performance", name, None, f"{name}_drop",
                                                   reference - value, config.max_drop))  # fmt: skip
        firing = self._rules.get("concept") is not None and self._rules["concept"].firing_since
        rise = self.concept.rise if (self._concept_detected or firing is not None) else 0.0
        concept = PerformanceVerdict("concept_drift", "concept", None, "error_rate_rise",
                                     float(np.nan_to_num(rise)), self.concept.min_rise)  # fmt: skip
        verdicts.append(concept)
        return verdicts

    def _judge(
        self, index: int, verdict: PerformanceVerdict, metrics: dict[str, float]
    ) -> Alert | None:
        state = self._rules.setdefault(verdict.rule, RuleState())
        started = state.firing_since
        transition = state.judge(self.config.rule, index, verdict.value, verdict.threshold)
        if transition is None:
            return None
        firing = transition == "fire"
        last = self._tail[-1]
        alert = Alert(
            type=verdict.alert_type,
            status="firing" if firing else "resolved",
            severity="warning" if firing else "info",
            model_id=self.spec.model_id,
            model_version=self.model_version,
            feature=verdict.feature,
            detector=verdict.detector,
            statistic_name=verdict.statistic,
            value=verdict.value,
            threshold=verdict.threshold,
            window=self._window(metrics),
            trigger=Trigger(
                last["event_id"], last["partition"], last["offset"], last["labelled_at_ms"]
            ),
            episode=f"{verdict.rule}/e{index if firing else started}",
            sample=tuple(
                {k: s[k] for k in ("event_id", "prediction", "label", "score")} for s in self._tail
            ),
            message=f"{verdict.statistic} {verdict.value:.4f} "
            f"{'>' if firing else 'back under'} {verdict.threshold:.4f} "
            f"over {int(metrics['count'])} labelled predictions",
        )
        self.retraining.noted(verdict, alert)
        return alert

    def _window(self, metrics: dict[str, float]) -> Window:
        # The labelled predictions behind a judgement: the kept tail's span, the window's count.
        return Window(self._tail[0]["predicted_at_ms"], self._tail[-1]["predicted_at_ms"],
                      int(metrics["count"]))  # fmt: skip


def _fairness_verdicts(attribute: str, window: FairnessWindow) -> list[PerformanceVerdict]:
    rule = f"fairness:{attribute}"
    return [PerformanceVerdict("fairness", f"{rule}:{metric}", attribute,
                               f"{metric}_lower_bound", value, bound)
            for metric, value, bound in confident_gaps(window)]  # fmt: skip
