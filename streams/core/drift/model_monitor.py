"""Watching one model version: a reference window, then tumbling windows judged against it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.abuse.abuse_tracker import AbuseConfig, AbuseTracker
from streams.core.alerts.alert import Alert, AlertType, Explanation, Trigger, Window
from streams.core.alerts.alert_rule import AlertRule
from streams.core.alerts.transition_alert import transition_alert
from streams.core.contract.columns import Columns
from streams.core.contract.event import PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import ModelSpec
from streams.core.detectors import Detector, DetectorConfigs, Verdict, default_configs
from streams.core.drift.detector_set import PREDICTION, SCORE, DetectorSet
from streams.core.drift.drifted_features import DriftedFeatures
from streams.core.drift.episodes import Episodes
from streams.core.drift.legacy_state import upgrade_v2
from streams.core.drift.model_columns import model_columns
from streams.core.drift.open_window import OpenWindow, open_window
from streams.core.drift.outcome import BatchOutcome
from streams.core.drift.profile import ReferenceProfile
from streams.core.drift.sampled import SampleTail
from streams.core.errors import InvalidState
from streams.core.labels.label_free import LabelFreeEstimator

__all__ = ["ModelMonitor", "MonitorConfig"]

# Read: 3, each detector's own state; 2, one tally per column (1, a pickle, is refused).
_READABLE_VERSIONS = (2, 3)
# The detector fields of a monitor still learning its reference (it has none yet).
_LEARNING: dict[str, Any] = {"detectors": {}, "model_detectors": {}, "blocks": None}


#: The fewest events a window or a reference holds: below it no statistic means anything.
MIN_EVENTS = 10


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Window sizes and detector settings shared by every model version."""

    window_events: int = 1000
    reference_events: int = 5000
    sample_size: int = 5
    detectors: DetectorConfigs = field(default_factory=default_configs)
    rule: AlertRule = field(default_factory=AlertRule)
    abuse: AbuseConfig = field(default_factory=AbuseConfig)

    def __post_init__(self) -> None:
        if min(self.window_events, self.reference_events) < MIN_EVENTS:
            raise ValueError(f"window_events and reference_events must be at least {MIN_EVENTS}")
        if not 0 <= self.sample_size <= 20:
            raise ValueError("sample_size must be in [0, 20]")


class ModelMonitor:
    """Drift and data-quality detectors for every feature of one model version.

    The first ``reference_events`` events become the reference profile unless one is given;
    after that, every ``window_events`` events close a window, each detector judges it, and
    the alert rule turns verdicts into at most one alert per episode. Which detectors run,
    and with what settings, is ``config.detectors`` overridden by the spec's ``detectors``
    (model level, then per feature). A spec's ``segments`` are watched by the subclass
    ``segments.SegmentedModelMonitor``.

    PII features (``pii`` in the spec) are redacted by ``pii`` before anything keeps them:
    hashed, they are watched as categoricals of their hashes (numbers included, see
    ``streams.core.contract.pii``); dropped, they are not watched, and samples leave them out.
    """

    SNAPSHOT_VERSION: ClassVar[int] = 3

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
        self._detectors: DetectorSet | None = None
        #: Probing and abuse by source (``spec.source_attribute``, with a PII key).
        self.abuse: AbuseTracker | None = None
        self._episodes = Episodes()
        self._window_count = 0
        self.anomalies = 0
        self._window_start_ms = 0
        self._tail = SampleTail(config.sample_size)
        self._new_reference: list[Columns] = []
        self._new_profile = False
        #: The features drifted in the last windows, explaining prediction drift/performance.
        self.drifted = DriftedFeatures()
        # Performance estimated from scores alone, visible before labels arrive. Not in the
        # snapshot: 1,000 scores per model in every batch's state write doubled the CPU per
        # event with 50 models; after a restart it refills within one window.
        self.label_free = (
            LabelFreeEstimator(window_events=config.window_events)
            if spec.task == "classification" else None
        )  # fmt: skip
        if profile is not None:
            self._start_watching(profile)
            # Inherited from another version (streams/core/rollout/reference.py): stored
            # as this version's, so that a restart does not start learning one.
            self._new_profile = profile.model_version != model_version

    def process(
        self, events: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]]
    ) -> BatchOutcome:
        """Take a batch of this version's events (in stream order): the alerts it raised,
        the verdicts of the windows it closed and its anomalous events."""
        alerts: list[Alert] = []
        verdicts: list[tuple[str | None, Verdict]] = []
        chunks: list[Columns] = []
        anomalies = start = 0
        while start < len(events):
            if self.profile is None:
                room = self.config.reference_events - self._reference_count
            else:
                room = self.config.window_events - self._window_count
            end = min(len(events), start + room)
            chunk = self._columns(events[start:end])
            chunks.append(chunk)
            if self.label_free is not None:
                predictions = chunk.categorical[PREDICTION]
                positive = self.spec.positive_classes.__contains__
                predicted = np.fromiter(map(positive, predictions), bool, len(predictions))
                score = chunk.numeric[:, chunk.numeric_names.index(SCORE)]
                self.label_free.add(score, predicted)
            if self.profile is None:
                self._learn_reference(chunk)
            else:
                anomalies += self._accumulate(chunk, events[start:end], positions[start:end])
                alerts += self._side_checks(chunk, events[start:end], positions[start:end])
                if self._window_count == self.config.window_events:
                    self._close_window(alerts, verdicts)
            start = end
        key = (self.spec.model_id, self.model_version)
        return BatchOutcome(tuple(alerts), (key,), {key: tuple(verdicts)}, {key: anomalies},
                            columns={key: tuple(chunks)})  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        """The state between batches, JSON-safe and small: detectors, rules, sample (a new
        dict, but sharing parts: to be serialised, not changed).

        The profile and the reference window are stored apart (``take_new_profile``,
        ``take_new_reference``), since they are written once, not every batch.
        """
        return {
            "version": self.SNAPSHOT_VERSION,
            "reference_count": self._reference_count,
            "windows_closed": self.windows_closed,
            "window_count": self._window_count,
            "window_start_ms": self._window_start_ms,
            "anomalies": self.anomalies,
            **(_LEARNING if self._detectors is None else self._detectors.snapshot()),
            "rules": self._episodes.snapshot(),
            "tail": self._tail.snapshot(),
            "drifted": self.drifted.snapshot(),
            **({} if self.abuse is None else {"abuse": self.abuse.snapshot()}),
        }

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
        """A monitor that goes on exactly where the one that wrote these left off.

        Raises ``InvalidState`` for anything malformed, of another version, or not fitting
        ``spec`` (stored state is read from Redis, which others can write). A detector the
        state has nothing of (switched on since) starts afresh.
        """
        with check.restoring(f"monitor state of {spec.model_id}:{model_version}"):
            return cls._restore(snapshot, spec, model_version, config, profile, reference, pii)

    @classmethod
    def _restore(
        cls,
        snapshot: Any,
        spec: ModelSpec,
        model_version: str,
        config: MonitorConfig,
        profile: Any,
        reference: Any,
        pii: PiiPolicy | None,
    ) -> Self:
        raw = check.mapping(snapshot, "monitor")
        if type(raw.get("version")) is not int or raw["version"] not in _READABLE_VERSIONS:
            raise InvalidState(f"monitor: version {raw.get('version')!r} is not readable")
        monitor = cls(spec, model_version, config, pii=pii)
        if profile is not None:
            monitor._start_watching(ReferenceProfile.from_dict(check.mapping(profile, "profile")))
        else:
            chunks = check.listing(reference, "reference")
            monitor._reference = [
                Columns.from_dict(dict(check.mapping(c, "reference"))) for c in chunks
            ]
        detectors = monitor._detectors
        if raw["version"] == 2:
            blocks = None if detectors is None or detectors.blocks is None else detectors.blocks
            raw = upgrade_v2(raw, None if blocks is None else blocks.names)
        monitor._restore_counts(raw, profile is None)
        if monitor.profile is not None:
            monitor._detectors = DetectorSet.restore(raw, monitor.profile, spec, config.detectors)
        monitor._episodes = Episodes.restore(raw["rules"])
        monitor._tail = SampleTail.restore(raw["tail"], config.sample_size)
        if raw.get("drifted") is not None:  # absent in state written before explanations
            monitor.drifted = DriftedFeatures.restore(raw["drifted"])
        if monitor._window_count and not monitor._tail:
            raise InvalidState("tail: empty while a window is open")
        if monitor.abuse is not None and "abuse" in raw:
            monitor.abuse = monitor.abuse.restored(raw["abuse"])
        return monitor

    def _restore_counts(self, raw: Any, learning: bool) -> None:
        counted = sum(len(chunk) for chunk in self._reference)
        self._reference_count = check.integer(raw["reference_count"], "reference_count")
        if learning and self._reference_count != counted:
            raise InvalidState("reference_count: does not match the reference chunks")
        self.windows_closed = check.integer(raw["windows_closed"], "windows_closed")
        self._window_count = check.integer(
            raw["window_count"], "window_count", high=self.config.window_events - 1
        )
        self._window_start_ms = check.integer(raw["window_start_ms"], "window_start_ms")
        self.anomalies = check.integer(raw["anomalies"], "anomalies")

    def open_window(self) -> OpenWindow | None:
        """The window being filled, judged as if it closed now (reads, changes nothing);
        None while the reference is still being learned."""
        if self._detectors is None:
            return None
        return open_window(self._detectors, self._episodes, index=self.windows_closed,
                           events=self._window_count, start_ms=self._window_start_ms)  # fmt: skip

    def mark_unsaved(self) -> None:
        """Storage lost what was saved: the next ``take_new_reference`` and
        ``take_new_profile`` give all of it again (the chunks gathered, or the profile)."""
        self._new_reference = list(self._reference)
        self._new_profile = self.profile is not None

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
        return model_columns(events, self.numeric, self.categorical, hashed=self._hashed,
                             pii=self.pii, regression=self.spec.task == "regression")  # fmt: skip

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
        self._detectors = DetectorSet(profile, self.spec, self.config.detectors)
        self.abuse = AbuseTracker.start(
            self.spec, self.model_version, profile, self.config.abuse, self.pii,
            numeric=self.numeric, categorical=self.categorical,
        )  # fmt: skip

    def _accumulate(
        self,
        chunk: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> int:
        """Feed the chunk to the detectors; return its anomalous events."""
        if self._window_count == 0:
            self._window_start_ms = events[0].timestamp_ms
        assert self._detectors is not None
        anomalous = self._detectors.add(chunk)
        self.anomalies += anomalous
        self._window_count += len(chunk)
        # Redacted before it is kept: the sample tail is stored every batch.
        redact, pii = self.pii.redact_fields, self._pii
        self._tail.add(events, positions, lambda features: redact(features, pii))
        return anomalous

    def _side_checks(
        self,
        chunk: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> list[Alert]:
        """Feed the chunk the detectors took to the checks beside them (abuse): their alerts."""
        return [] if self.abuse is None else self.abuse.add(chunk, events, positions)

    def _close_window(
        self, alerts: list[Alert], verdicts: list[tuple[str | None, Verdict]]
    ) -> None:
        index = self.windows_closed
        last = self._tail.last
        window = Window(self._window_start_ms, last.timestamp_ms, self._window_count)
        trigger = Trigger(last.event_id, last.partition, last.offset, last.timestamp_ms)
        assert self._detectors is not None
        judged = self._detectors.verdicts(self._episodes.firing)
        verdicts.extend((name, verdict) for _, name, _, verdict in judged)
        self.drifted.record(window.start_ms, window.end_ms, ((k, n, v) for k, n, _, v in judged))
        for kind, name, detector, verdict in judged:
            alert = self._judge(index, kind, name, detector, verdict, window, trigger)
            if alert is not None:
                alerts.append(alert)
        self._detectors.end_window()
        self.windows_closed += 1
        self._window_count = 0

    def _judge(
        self,
        index: int,
        kind: str,
        name: str | None,
        detector: Detector,
        verdict: Verdict,
        window: Window,
        trigger: Trigger,
    ) -> Alert | None:
        rule = detector.rule
        transition, started = self._episodes.judge(
            self.config.rule, (kind, name, rule), index, verdict.value, verdict.threshold
        )
        if transition is None:
            return None
        fired = transition == "fire"
        alert_type: AlertType = detector.alert_type
        if alert_type == "data_drift" and kind == "prediction":
            alert_type = "prediction_drift"
        return transition_alert(
            fired, verdict, alert_type=alert_type, model=(self.spec.model_id, self.model_version),
            feature=name, window=window, trigger=trigger, episode=f"{rule}/w{started}",
            severity="critical" if verdict.value > 2 * verdict.threshold else "warning",
            sample=tuple(self._tail.sample(self.config.sample_size)),
            explanation=self._explanation(alert_type),
            subject=f"{name or 'all numeric features'}: ", counted="events",
        )  # fmt: skip

    def _explanation(self, alert_type: AlertType) -> Explanation | None:
        """Anomaly: the features behind the anomalous distance; prediction drift: the
        inputs drifted in this window and the last."""
        contributions = None if self._detectors is None else self._detectors.contributions
        if alert_type == "anomaly" and contributions is not None:
            return contributions.as_explanation()
        return self.drifted.latest() if alert_type == "prediction_drift" else None
