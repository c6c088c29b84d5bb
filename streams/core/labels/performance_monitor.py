"""What one model version's labels say: performance, concept drift and fairness, with alerts.

Fed joined (prediction, label) pairs in micro-batches, in label arrival order. The reference
is the performance later windows are held against: given up front (a labelled validation
set stored with the profile), else the first ``reference_labels`` pairs. Every
``evaluate_every`` labels the window (the last ``long_window_labels`` pairs, and its newest
``window_labels``) is judged once it holds ``min_labels`` pairs: a classification metric
(accuracy, F1, ROC AUC) confidently more than ``max_drop`` below the reference, or an error
(MAE, RMSE) confidently more than ``max_error_rise`` (relative) over it, fires a
``performance`` alert (``performance_checks``); a rise of the error rate caught by ADWIN
(``ErrorRateDrift``) a ``concept_drift`` alert; a fairness bound broken on enough data a
``fairness`` alert. Two CUSUMs, label by label, on the ROC AUC placement values
(``auc_cusum``) and on the labels' likelihood against the reference's calibration
(``calibration_cusum``), fire ``performance`` alerts of those detectors. "Confidently" spends the
false-alarm budget ``alpha`` per ``budget_labels`` labels over every look
(``alert_budget``). Each is one episode with the same hysteresis and cooldown as drift
alerts. A performance or concept-drift episode that persists ``retrain_after`` evaluations
yields one retraining request, then none for ``retrain_cooldown`` evaluations
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
from streams.core.alerts.retrain_request import RetrainRequest
from streams.core.alerts.transition_alert import transition_alert
from streams.core.contract.spec import ModelSpec
from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.concept_drift import ErrorDetectorName, ErrorRateDrift
from streams.core.labels.fairness import FairnessWindow
from streams.core.labels.fairness_checks import add_labelled, fairness_verdicts, restore_windows
from streams.core.labels.label_cusums import LabelCusums
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.labelled_columns import labelled_columns, usable
from streams.core.labels.performance import ClassificationWindow, RegressionWindow
from streams.core.labels.performance_checks import PerformanceChecks, views_per_look
from streams.core.labels.performance_verdict import PerformanceVerdict
from streams.core.labels.retraining import RetrainingPolicy

__all__ = ["PerformanceConfig", "PerformanceMonitor"]

_SAMPLE = 5
_ADWIN_CLOCK = 32
# Labels between two looks at the CUSUMs between evaluations: a crossing fires then,
# not up to ``evaluate_every`` labels later (it can only fire there; resolving waits for
# the evaluations).
_CUSUM_CLOCK = 50


@dataclass(frozen=True, slots=True)
class PerformanceConfig:
    """Windows, margins and the retraining policy (see the module docstring)."""

    window_labels: int = 1000
    long_window_labels: int = 5000
    reference_labels: int = 10_000
    evaluate_every: int = 250
    min_labels: int = 200
    max_drop: float = 0.005
    max_error_rise: float = 0.1
    alpha: float = 0.01
    budget_labels: int = 1_000_000
    time_window_s: int = 3600
    concept_detector: ErrorDetectorName = "adwin"
    retrain_after: int = 3
    retrain_cooldown: int = 20
    rule: AlertRule = field(default_factory=AlertRule)

    def __post_init__(self) -> None:
        counts = (self.window_labels, self.reference_labels, self.evaluate_every,
                  self.min_labels, self.time_window_s, self.retrain_after,
                  self.budget_labels)  # fmt: skip
        if min(counts) < 1 or self.retrain_cooldown < 0:
            raise ValueError("label counts, windows and retrain_after must be positive")
        if not (0 < self.max_drop < 1 and self.max_error_rise > 0 and 0 < self.alpha < 1):
            raise ValueError("max_drop and alpha must be in (0, 1), max_error_rise positive")
        if not self.min_labels <= self.window_labels <= self.long_window_labels:
            raise ValueError("need min_labels <= window_labels <= long_window_labels")

    def budget(self, task: str) -> AlertBudget:
        """The false-alarm budget of a model of ``task``, spent over its looks."""
        return AlertBudget(self.alpha, self.budget_labels, self.evaluate_every,
                           views_per_look(task))  # fmt: skip

    @property
    def checks(self) -> PerformanceChecks:
        return PerformanceChecks(self.window_labels, self.min_labels, self.max_drop,
                                 self.max_error_rise)  # fmt: skip


class PerformanceMonitor:
    """Labels of one model version: windows, reference, detectors and alert rules."""

    # 3: the reference with its uncertainty ("label_reference"), the long window; 2 is read
    # (its reference, lacking uncertainty, is learned again; its concept detector, cut at
    # another delta, starts fresh). 1 held a pickle and is refused.
    SNAPSHOT_VERSION: ClassVar[int] = 3

    def __init__(
        self,
        spec: ModelSpec,
        model_version: str,
        config: PerformanceConfig,
        reference: LabelReference | None = None,
    ) -> None:
        self.spec = spec
        self.model_version = model_version
        self.config = config
        self.regression = spec.task == "regression"
        self._positive = spec.positive_classes
        window_type = RegressionWindow if self.regression else ClassificationWindow
        self.window = window_type(window_events=config.long_window_labels)
        self._reference = window_type(window_events=config.reference_labels)
        if reference is not None and reference.task != spec.task:
            raise ValueError(f"a {reference.task} reference for a {spec.task} model")
        self.given_reference = reference
        self.reference = reference
        self.budget = config.budget(spec.task)
        self.cusums = LabelCusums(reference, self.budget)
        self.concept = ErrorRateDrift(
            detector=config.concept_detector, reference_events=config.reference_labels,
            delta=self.budget.adwin_delta(clock=_ADWIN_CLOCK),
        )  # fmt: skip
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
            if self.cusums:
                room = min(room, _CUSUM_CLOCK - self._since_evaluation % _CUSUM_CLOCK)
            part = usable[start : start + room]
            start += len(part)
            self._take(part)
            if self._since_evaluation >= self.config.evaluate_every:
                self._since_evaluation = 0
                alerts += self._evaluate()
            elif self._since_evaluation % _CUSUM_CLOCK == 0:
                alerts += self._early_cusum_alerts()
        return alerts

    def _early_cusum_alerts(self) -> list[Alert]:
        if len(self.window) < self.config.min_labels:
            return []
        crossed = self.cusums.crossed(self._rules, look=self.evaluations)
        judged = [self._judge(self.evaluations, v, self._window()) for v in crossed]
        return [alert for alert in judged if alert is not None]

    def _take(self, usable: list[tuple[LabelledPrediction, tuple[int, int]]]) -> None:
        kept = [p for p, _ in usable]
        columns = self._columns(kept)
        learned = self._learn_reference(columns)
        self.window.add(**columns)
        if self.cusums:  # labels past the reference only
            score, positive = columns["score"][learned:], columns["true_positive_class"][learned:]
            self.cusums.update(score, positive, look=self.evaluations)
        correct = self._correct(columns)
        if correct is not None:
            self.concept.update(correct)
            self._concept_detected |= self.concept.drift_detected
        if not self.regression:
            add_labelled(self.fairness, kept, columns)
        self.labels_seen += len(kept)
        self._since_evaluation += len(kept)
        self._remember(usable)

    def metrics(self) -> dict[str, dict[str, float]]:
        """Realised metrics: the count window, the time window and the reference."""
        newest = self._tail[-1]["predicted_at_ms"] if self._tail else 0
        since = newest - self.config.time_window_s * 1000
        return {
            "window": self.window.metrics(last=self.config.window_labels),
            "recent": self.window.metrics(since_ms=since),
            "reference": self.reference_metrics,
        }

    @property
    def reference_metrics(self) -> dict[str, float]:
        """The reference's metric values; empty until there is a reference."""
        return {} if self.reference is None else self.reference.metrics()

    def snapshot(self) -> dict[str, Any]:
        """All state as JSON-safe data, for ``restore``."""
        return {
            "version": self.SNAPSHOT_VERSION,
            "window": self.window.snapshot(),
            **self._reference_snapshot(),  # "reference", "label_reference"
            "concept": self.concept.snapshot(),
            **self.cusums.snapshot(),  # "auc_cusum", "calibration_cusum"
            "concept_detected": self._concept_detected,
            "fairness": {a: w.snapshot() for a, w in self.fairness.items()},
            "counts": [self.labels_seen, self.unusable, self.evaluations, self._since_evaluation],
            "rules": {rule: state.snapshot() for rule, state in self._rules.items()},
            **self.retraining.snapshot(),  # "evidence", "last_request"
            "tail": self._tail,
        }  # fmt: skip

    def _reference_snapshot(self) -> dict[str, Any]:
        # The reference window only while it is being learned; a given reference is not
        # stored (it comes with the profile again).
        learned = self.reference is not None and self.reference is not self.given_reference
        return {
            "reference": self._reference.snapshot() if self.reference is None else None,
            "label_reference": self.reference.to_dict() if learned and self.reference else None,
        }

    @classmethod
    def restore(
        cls,
        snapshot: Any,
        spec: ModelSpec,
        model_version: str,
        config: PerformanceConfig,
        reference: LabelReference | None = None,
    ) -> Self:
        """A monitor continuing from ``snapshot``; fairness policies come from ``spec``, a
        given ``reference`` wins over a learned one.

        Raises ``InvalidState`` for anything malformed or of an unknown version.
        """
        with check.restoring(f"performance state of {spec.model_id}:{model_version}"):
            return cls._restore(snapshot, spec, model_version, config, reference)

    @classmethod
    def _restore(
        cls,
        snapshot: Any,
        spec: ModelSpec,
        model_version: str,
        config: PerformanceConfig,
        reference: LabelReference | None,
    ) -> Self:
        raw = check.mapping(snapshot, "performance")
        version = raw.get("version")
        if version not in (2, cls.SNAPSHOT_VERSION) or type(version) is not int:
            raise check.InvalidState(f"performance: version {version!r} is not 2 or 3")
        monitor = cls(spec, model_version, config, reference)
        monitor.window.extend(type(monitor.window).restore(raw["window"]))
        monitor._restore_reference(raw, version)
        if version == cls.SNAPSHOT_VERSION:  # 2's detector was cut at another delta
            concept = monitor.concept
            monitor.concept = ErrorRateDrift.restore(
                raw["concept"], detector=concept.detector,
                reference_events=concept.reference_events, min_rise=concept.min_rise,
                recent_events=concept.recent_events, delta=concept.delta,
            )  # fmt: skip
        monitor.cusums = LabelCusums(monitor.reference, monitor.budget)
        monitor.cusums.restore(raw)
        monitor._concept_detected = check.flag(raw["concept_detected"], "concept_detected")
        monitor.fairness = restore_windows(monitor.fairness, raw["fairness"])
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

    def _restore_reference(self, raw: Any, version: int) -> None:
        # Version 2 stored a finished reference without its uncertainty: learn it again.
        if raw["reference"] is not None:
            self._reference.extend(type(self._reference).restore(raw["reference"]))
        stored = raw.get("label_reference") if version == self.SNAPSHOT_VERSION else None
        if stored is not None and self.given_reference is None:
            self.reference = LabelReference.from_dict(stored)

    def take_retrain_requests(self) -> list[RetrainRequest]:
        """The retraining requests made since the last call."""
        return self.retraining.take()

    def _usable(self, pair: LabelledPrediction) -> bool:
        return usable(self.spec, pair)

    def _columns(self, pairs: Sequence[LabelledPrediction]) -> dict[str, np.ndarray]:
        return labelled_columns(self.spec, pairs)

    def _correct(self, columns: dict[str, np.ndarray]) -> np.ndarray | None:
        if not self.regression:
            return columns["correct"]
        # A regression "error", for concept drift: off by more than twice the reference's
        # mean absolute error (about one prediction in nine for normal errors). None until
        # the reference exists.
        mae = self.reference_metrics.get("mae", np.nan)
        if not (np.isfinite(mae) and mae > 0):
            return None
        correct: np.ndarray = np.abs(columns["error"]) <= 2 * mae
        return correct

    def _learn_reference(self, columns: dict[str, np.ndarray]) -> int:
        """Add the rows the reference still needs; return how many it took."""
        room = self.config.reference_labels - len(self._reference)
        if self.reference is not None or room <= 0:
            return 0
        self._reference.add(**{name: column[:room] for name, column in columns.items()})
        if len(self._reference) >= self.config.reference_labels:
            self.reference = LabelReference.of_window(self._reference, "stream")
            self.cusums = LabelCusums(self.reference, self.budget)
            # Its rows are no longer needed: a fresh (empty) window keeps the state small.
            self._reference = type(self._reference)(window_events=self.config.reference_labels)
        return min(room, len(next(iter(columns.values()), ())))

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
        whole = self._window()
        judged = self._performance_verdicts(index)
        judged += [(v, whole) for v in fairness_verdicts(self.fairness)]
        self._concept_detected = False
        alerts = [a for v, w in judged if (a := self._judge(index, v, w)) is not None]
        self.retraining.consider(index, self._rules, metrics, self.reference_metrics, whole)
        self.evaluations += 1
        return alerts

    def _performance_verdicts(self, index: int) -> list[tuple[PerformanceVerdict, Window]]:
        if self.reference is None or len(self.window) < self.config.min_labels:
            return []
        verdicts = self.config.checks.verdicts(self.window, self.reference, self.budget.z(index))
        firing = self._rules.get("concept") is not None and self._rules["concept"].firing_since
        rise = self.concept.rise if (self._concept_detected or firing is not None) else 0.0
        concept = PerformanceVerdict("concept_drift", "concept", None, "error_rate_rise",
                                     float(np.nan_to_num(rise)), self.concept.min_rise)  # fmt: skip
        verdicts += [(v, self._window()) for v in self.cusums.verdicts(look=index)]
        return [*verdicts, (concept, self._window())]

    def _judge(self, index: int, verdict: PerformanceVerdict, window: Window) -> Alert | None:
        state = self._rules.setdefault(verdict.rule, RuleState())
        started = state.firing_since
        transition = state.judge(self.config.rule, index, verdict.value, verdict.threshold)
        if transition is None:
            return None
        fired = transition == "fire"
        last = self._tail[-1]
        alert = transition_alert(
            fired, verdict, alert_type=verdict.alert_type,
            model=(self.spec.model_id, self.model_version), feature=verdict.feature,
            window=window,
            trigger=Trigger(last["event_id"], last["partition"], last["offset"],
                            last["labelled_at_ms"]),
            episode=f"{verdict.rule}/e{index if fired else started}", severity="warning",
            sample=tuple({k: s[k] for k in ("event_id", "prediction", "label", "score")}
                         for s in self._tail),
            counted="labelled predictions",
        )  # fmt: skip
        self.retraining.noted(verdict, alert)
        return alert

    def _window(self) -> Window:
        # The labelled predictions behind a judgement: from the window's first label's
        # prediction to its newest (not the last batch's span).
        start, end = self.window.span()
        return Window(start, end, len(self.window))
