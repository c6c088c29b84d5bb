"""Watching one model version: a reference window, then tumbling windows judged against it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import numpy as np

from streams.core import plain_data as check
from streams.core.alerts.alert import Alert, AlertType, Trigger, Window
from streams.core.alerts.alert_rule import AlertRule, RuleState
from streams.core.contract.columns import Columns, category_of
from streams.core.contract.event import PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import ModelSpec
from streams.core.drift.anomaly import AnomalyScorer
from streams.core.drift.feature_window import DetectorConfig, FeatureWindow, Verdict
from streams.core.drift.online_drift import OnlineMeanDrift
from streams.core.drift.profile import ReferenceProfile
from streams.core.drift.statistics import rate_threshold
from streams.core.labels.label_free import LabelFreeEstimator

__all__ = ["ModelMonitor", "MonitorConfig"]

# Pseudo-feature names of the prediction columns; alerts on them are "prediction_drift".
SCORE, PREDICTION = "score", "prediction"
# 2: the online detectors as plain numbers (1 held a pickle and is refused).
STATE_VERSION = 2
_DRIFT_DETECTORS = ("psi", "adwin")


class _Sampled(NamedTuple):
    """An event kept for an alert's sample and trigger."""

    event_id: str
    timestamp_ms: int
    features: dict[str, Any]
    prediction: Any
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Window sizes and detector settings shared by every model version."""

    window_events: int = 1000
    reference_events: int = 5000
    sample_size: int = 5
    detectors: DetectorConfig = field(default_factory=DetectorConfig)
    rule: AlertRule = field(default_factory=AlertRule)

    def __post_init__(self) -> None:
        if self.window_events < 10 or self.reference_events < 10:
            raise ValueError("window_events and reference_events must be at least 10")
        if not 0 <= self.sample_size <= 20:
            raise ValueError("sample_size must be in [0, 20]")


class ModelMonitor:
    """Drift and data-quality detectors for every feature of one model version.

    The first ``reference_events`` events become the reference profile unless one is given;
    after that, every ``window_events`` events close a window, each detector judges it, and
    the alert rule turns verdicts into at most one alert per episode.

    PII features (``pii`` in the spec) are redacted by ``pii`` before anything keeps them:
    hashed, they are watched as categoricals of their hashes (numbers included, see
    ``streams.core.contract.pii``); dropped, they are not watched, and samples leave them out.
    """

    def __init__(
        self,
        spec: ModelSpec,
        model_version: str,
        config: MonitorConfig,
        profile: ReferenceProfile | None = None,
        *,
        pii: PiiPolicy | None = None,
    ) -> None:
        self.spec = spec
        self.model_version = model_version
        self.config = config
        self.pii = pii or PiiPolicy(mode="drop")
        self._pii = tuple(n for n, f in spec.features.items() if f.pii)
        watched = {n: f for n, f in spec.features.items() if not f.pii or self.pii.hashes}
        self.numeric = tuple(n for n, f in watched.items() if f.type == "number" and not f.pii)
        self.categorical = tuple(n for n, f in watched.items() if f.type != "number" or f.pii)
        # Watched PII features: their columns are hashed before any profile or chunk sees them.
        self._hashed = tuple(n for n in self.categorical if n in self._pii)
        self._reference: list[Columns] = []
        self._reference_count = 0
        self.profile: ReferenceProfile | None = None
        self.windows_closed = 0
        self._windows: dict[tuple[str, str], FeatureWindow] = {}
        self._rules: dict[tuple[str, str | None, str], RuleState] = {}
        self._window_count = 0
        self._window_anomalies = 0
        self.anomalies = 0
        self.batch_anomalies = 0
        self.batch_verdicts: list[tuple[str | None, Verdict]] = []
        self._window_start_ms = 0
        self._tail: list[_Sampled] = []
        self._new_reference: list[Columns] = []
        self._new_profile = False
        self._online: OnlineMeanDrift | None = None
        # Performance estimated from scores alone, visible before labels arrive. Not in the
        # snapshot: 1,000 scores per model in every batch's state write doubled the CPU per
        # event with 50 models; after a restart it refills within one window.
        self.label_free = (
            LabelFreeEstimator(window_events=config.window_events)
            if spec.task == "classification" else None
        )  # fmt: skip
        if profile is not None:
            self._start_watching(profile)

    def process(
        self, events: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]]
    ) -> list[Alert]:
        """Take a batch of this version's events (in stream order); return the alerts it raised.

        ``batch_anomalies`` and ``batch_verdicts`` then say what this batch scored and judged.
        """
        self.batch_anomalies = 0
        self.batch_verdicts = []
        alerts: list[Alert] = []
        start = 0
        while start < len(events):
            if self.profile is None:
                room = self.config.reference_events - self._reference_count
            else:
                room = self.config.window_events - self._window_count
            end = min(len(events), start + room)
            chunk = self._columns(events[start:end])
            if self.label_free is not None:
                predicted = [p in self.spec.positive_classes for p in chunk.categorical[PREDICTION]]
                score = chunk.numeric[:, chunk.numeric_names.index(SCORE)]
                self.label_free.add(score, np.array(predicted, dtype=bool))
            if self.profile is None:
                self._learn_reference(chunk)
            else:
                self._accumulate(chunk, events[start:end], positions[start:end])
                if self._window_count == self.config.window_events:
                    alerts.extend(self._close_window())
            start = end
        return alerts

    def snapshot(self) -> dict[str, Any]:
        """The state between batches, JSON-safe and small: window tallies, rules, sample.

        The profile and the reference window are stored apart (``take_new_profile``,
        ``take_new_reference``), since they are written once, not every batch.
        """
        return {
            "version": STATE_VERSION,
            "reference_count": self._reference_count,
            "windows_closed": self.windows_closed,
            "window_count": self._window_count,
            "window_start_ms": self._window_start_ms,
            "window_anomalies": self._window_anomalies,
            "anomalies": self.anomalies,
            "windows": {f"{k}:{n}": w.snapshot() for (k, n), w in self._windows.items()},
            "rules": [[*key, state.snapshot()] for key, state in self._rules.items()],
            "tail": [list(sampled) for sampled in self._tail],
            "online": None if self._online is None else self._online.snapshot(),
        }

    @classmethod
    def restore(
        cls,
        spec: ModelSpec,
        model_version: str,
        config: MonitorConfig,
        *,
        snapshot: dict[str, Any],
        profile: dict[str, Any] | None,
        reference: list[dict[str, Any]],
        pii: PiiPolicy | None = None,
    ) -> ModelMonitor:
        """A monitor that goes on exactly where the one that wrote these left off.

        Raises ``InvalidState`` for anything malformed, of another version, or not fitting
        ``spec`` (stored state is read from Redis, which others can write).
        """
        with check.restoring(f"monitor state of {spec.model_id}:{model_version}"):
            return cls._restore(spec, model_version, config, snapshot, profile, reference, pii)

    @classmethod
    def _restore(
        cls,
        spec: ModelSpec,
        model_version: str,
        config: MonitorConfig,
        snapshot: Any,
        profile: Any,
        reference: Any,
        pii: PiiPolicy | None,
    ) -> ModelMonitor:
        raw = check.version(snapshot, "monitor", STATE_VERSION)
        monitor = cls(spec, model_version, config, pii=pii)
        if profile is not None:
            monitor._start_watching(ReferenceProfile.from_dict(check.mapping(profile, "profile")))
        else:
            chunks = check.listing(reference, "reference")
            monitor._reference = [Columns.from_dict(check.mapping(c, "reference")) for c in chunks]
        counted = sum(len(chunk) for chunk in monitor._reference)
        monitor._reference_count = check.integer(raw["reference_count"], "reference_count")
        if profile is None and monitor._reference_count != counted:
            raise check.InvalidState("reference_count: does not match the reference chunks")
        monitor.windows_closed = check.integer(raw["windows_closed"], "windows_closed")
        monitor._window_count = check.integer(
            raw["window_count"], "window_count", high=config.window_events - 1
        )
        monitor._window_start_ms = check.integer(raw["window_start_ms"], "window_start_ms")
        monitor._window_anomalies = check.integer(raw["window_anomalies"], "window_anomalies")
        monitor.anomalies = check.integer(raw["anomalies"], "anomalies")
        windows = check.mapping(raw["windows"], "windows")
        for (kind, name), window in monitor._windows.items():
            window.restore(windows[f"{kind}:{name}"])
        monitor._rules = {}
        for item in check.listing(raw["rules"], "rules", max_length=100_000):
            kind, name, detector, state = check.listing(item, "rules[]", length=4)
            key = (check.text(kind, "rules.kind"), check.optional(check.text, name, "rules.name"),
                   check.text(detector, "rules.detector"))  # fmt: skip
            monitor._rules[key] = RuleState.restore(state)
        tail = check.listing(raw["tail"], "tail", max_length=max(config.sample_size, 1))
        monitor._tail = [_sampled(item) for item in tail]
        if monitor._window_count and not monitor._tail:
            raise check.InvalidState("tail: empty while a window is open")
        if monitor._online is not None and raw.get("online") is not None:
            monitor._online.restore(raw["online"])
        return monitor

    def take_new_reference(self) -> list[dict[str, Any]]:
        """Reference chunks gathered since the last call, JSON-safe, to append to storage."""
        chunks, self._new_reference = self._new_reference, []
        return [chunk.to_dict() for chunk in chunks]

    def take_new_profile(self) -> dict[str, Any] | None:
        """The profile, once, right after it was built; None otherwise."""
        if not self._new_profile or self.profile is None:
            return None
        self._new_profile = False
        return self.profile.to_dict()

    def _columns(self, events: Sequence[PredictionEvent]) -> Columns:
        columns = Columns.from_events(events, self.numeric, self.categorical)
        for name in self._hashed:
            columns.categorical[name] = self.pii.redact_column(columns.categorical[name])
        scores = np.array([e.score for e in events], dtype=float).reshape(-1, 1)
        predictions = [category_of(e.prediction) for e in events]
        if self.spec.task == "regression":
            regressions = np.array(predictions, dtype=float).reshape(-1, 1)
            numeric = np.hstack([columns.numeric, scores, regressions])
            return Columns((*columns.numeric_names, SCORE, PREDICTION), numeric,
                           columns.categorical)  # fmt: skip
        numeric = np.hstack([columns.numeric, scores])
        categorical = {**columns.categorical, PREDICTION: predictions}
        return Columns((*columns.numeric_names, SCORE), numeric, categorical)

    def _learn_reference(self, chunk: Columns) -> None:
        self._reference.append(chunk)
        self._new_reference.append(chunk)
        self._reference_count += len(chunk)
        if self._reference_count < self.config.reference_events:
            return
        merged = Columns(
            chunk.numeric_names,
            np.vstack([c.numeric for c in self._reference]),
            {n: [v for c in self._reference for v in c.categorical[n]] for n in chunk.categorical},
        )
        self._reference = []
        self._new_profile = True
        self._start_watching(
            ReferenceProfile.from_columns(
                self.spec.model_id, self.model_version, merged, anomaly_columns=len(self.numeric)
            )
        )

    def _start_watching(self, profile: ReferenceProfile) -> None:
        self.profile = profile
        scorer = profile.anomaly
        self._online = (
            None if scorer is None else OnlineMeanDrift(scorer.names, scorer.mean, scorer.scale)
        )
        self._windows = {
            **{(_kind(n), n): FeatureWindow(p) for n, p in profile.numeric.items()},
            **{(_kind(n), n): FeatureWindow(p) for n, p in profile.categorical.items()},
        }

    def _accumulate(
        self,
        chunk: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> None:
        if self._window_count == 0:
            self._window_start_ms = events[0].timestamp_ms
        for j, name in enumerate(chunk.numeric_names):
            self._windows[_kind(name), name].add_numeric(chunk.numeric[:, j])
        for name, values in chunk.categorical.items():
            self._windows[_kind(name), name].add_categories(values)
        scorer = self.profile.anomaly if self.profile else None
        if scorer is not None and self._online is not None:
            rows = _select(chunk, scorer.names)
            self._online.add(rows)
            anomalous = int(np.count_nonzero(scorer.scores(rows) > scorer.threshold))
            self._window_anomalies += anomalous
            self.anomalies += anomalous
            self.batch_anomalies += anomalous
        self._window_count += len(chunk)
        keep = max(self.config.sample_size, 1)
        # Only the few kept events are redacted: the sample tail is stored every batch.
        redact, pii = self.pii.redact_fields, self._pii
        recent = [
            _Sampled(e.event_id, e.timestamp_ms, redact(e.features, pii), e.prediction, *position)
            for e, position in zip(events[-keep:], positions[-keep:], strict=True)
        ]
        self._tail = (self._tail + recent)[-keep:]

    def _close_window(self) -> list[Alert]:
        index = self.windows_closed
        last = self._tail[-1]
        window = Window(self._window_start_ms, last.timestamp_ms, self._window_count)
        trigger = Trigger(last.event_id, last.partition, last.offset, last.timestamp_ms)
        detectors = self.config.detectors
        shifts = self._online.shifts() if self._online is not None else {}
        judged: list[tuple[str, str | None, Verdict]] = []
        for (kind, name), tallies in self._windows.items():
            for verdict in tallies.verdicts(detectors):
                if verdict.detector == "psi" and name in shifts and not self._firing(kind, name):
                    # ADWIN may start an episode; PSI against the reference ends it (ADWIN's
                    # estimate forgets a past shift only slowly once it is over).
                    online = Verdict(
                        "adwin", "adwin_mean_shift", shifts[name], detectors.adwin_threshold
                    )
                    verdict = max(verdict, online, key=lambda v: v.value / v.threshold)
                judged.append((kind, name, verdict))
        if self.profile is not None and self.profile.anomaly is not None:
            judged.append(("model", None, self._anomaly_verdict(self.profile.anomaly)))
        self.batch_verdicts.extend((name, verdict) for _, name, verdict in judged)
        alerts = []
        for kind, feature, verdict in judged:
            alert = self._judge(index, kind, feature, verdict, window, trigger)
            if alert is not None:
                alerts.append(alert)
        for tallies in self._windows.values():
            tallies.reset()
        self.windows_closed += 1
        self._window_count = self._window_anomalies = 0
        return alerts

    def _firing(self, kind: str, name: str | None) -> bool:
        state = self._rules.get((kind, name, "drift"))
        return state is not None and state.firing_since is not None

    def _anomaly_verdict(self, scorer: AnomalyScorer) -> Verdict:
        # Single outliers are expected (1 - quantile of them); a burst lifts the window's rate.
        detectors, n = self.config.detectors, self._window_count
        threshold = rate_threshold(
            scorer.expected_rate, n, z=detectors.rate_z, min_increase=detectors.rate_min_increase
        )
        return Verdict("mahalanobis", "anomaly_rate", self._window_anomalies / n, threshold)

    def _judge(
        self,
        index: int,
        kind: str,
        name: str | None,
        verdict: Verdict,
        window: Window,
        trigger: Trigger,
    ) -> Alert | None:
        # PSI and ADWIN judge the same thing, a feature's drift: one rule, one episode.
        rule = "drift" if verdict.detector in _DRIFT_DETECTORS else verdict.detector
        state = self._rules.setdefault((kind, name, rule), RuleState())
        firing_since = state.firing_since
        transition = state.judge(self.config.rule, index, verdict.value, verdict.threshold)
        if transition is None:
            return None
        episode = f"{rule}/w{index if transition == 'fire' else firing_since}"
        alert_type: AlertType = (
            "anomaly" if kind == "model" else
            "data_quality" if rule != "drift" else
            "prediction_drift" if kind == "prediction" else "data_drift"
        )  # fmt: skip
        severity: Literal["info", "warning", "critical"] = (
            "info" if transition == "resolve" else
            "critical" if verdict.value > 2 * verdict.threshold else "warning"
        )  # fmt: skip
        status: Literal["firing", "resolved"] = "firing" if transition == "fire" else "resolved"
        return Alert(
            type=alert_type,
            status=status,
            severity=severity,
            model_id=self.spec.model_id,
            model_version=self.model_version,
            feature=name,
            detector=verdict.detector,
            statistic_name=verdict.statistic,
            value=verdict.value,
            threshold=verdict.threshold,
            window=window,
            trigger=trigger,
            episode=episode,
            sample=tuple(self._sample()),
            message=f"{name or 'all numeric features'}: {verdict.statistic} {verdict.value:.4f} "
            f"{'>' if status == 'firing' else 'back under'} {verdict.threshold:.4f} "
            f"over {window.count} events",
        )

    def _sample(self) -> list[dict[str, Any]]:
        return [
            {
                "event_id": event.event_id,
                "features": event.features,  # PII redacted when the event was kept
                "prediction": event.prediction,
            }
            for event in self._tail[-self.config.sample_size :]
        ]


def _sampled(raw: Any) -> _Sampled:
    event_id, timestamp_ms, features, prediction, partition, offset = check.listing(
        raw, "tail[]", length=6
    )
    return _Sampled(
        check.text(event_id, "tail.event_id"),
        check.integer(timestamp_ms, "tail.timestamp_ms"),
        dict(check.mapping(features, "tail.features")),
        prediction,
        check.integer(partition, "tail.partition"),
        check.integer(offset, "tail.offset"),
    )


def _select(chunk: Columns, names: tuple[str, ...]) -> np.ndarray:
    # The reference may order (or even name) its features otherwise than this spec does;
    # a feature the batch lacks counts as missing.
    where = {name: j for j, name in enumerate(chunk.numeric_names)}
    missing = np.full(len(chunk), np.nan)
    return np.column_stack(
        [chunk.numeric[:, where[n]] if n in where else missing for n in names]
    ).reshape(len(chunk), len(names))


def _kind(name: str) -> str:
    return "prediction" if name in (SCORE, PREDICTION) else "feature"
