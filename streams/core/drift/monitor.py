"""Every watched model version, fed from validated batches: the core the worker and replay share."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from operator import attrgetter
from typing import Any

from streams.core.alerts.alert import Alert
from streams.core.contract.event import PredictionEvent
from streams.core.contract.ingestor import Rejection
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.drift.outcome import BatchOutcome
from streams.core.drift.profile import ReferenceProfile
from streams.core.plain_data import restoring
from streams.core.rollout.reference import MODES, inherited
from streams.core.rollout.rollouts import Rollouts
from streams.core.segments.segmented_model_monitor import SegmentedModelMonitor

__all__ = ["UNWATCHED_REASONS", "Monitor"]

# Why an accepted event met no monitor (a metric label: keep the set small and fixed).
UNWATCHED_REASONS = ("warmup", "monitor_limit")
_KEY = attrgetter("model_id", "model_version")


class Monitor:
    """Route each event to its (model, version) monitor, creating it once the model has a spec.

    Events no monitor judged are counted apart, by reason, never as watched: ``warmup`` (the
    model's spec is still being learned: the events taught it, but there is nothing yet to
    judge them against) and ``monitor_limit`` (``max_versions`` monitors exist already).
    ``unwatched`` is the total; each batch's ``BatchOutcome`` has its counts by
    (model, reason).

    Parameters
    ----------
    registry
        Where specs come from (the same registry the ingestor checks against).
    config
        Windows and detector settings.
    max_versions
        Model versions watched at once; events of more are counted as unwatched
        (``monitor_limit``), so memory stays bounded. The registry's caps (models, versions
        per model) keep the worker under it; this is the last guard.
    profiles
        Reference profiles given up front (from training data) by (model id, version);
        the others are learned from each version's first events.
    pii
        How PII features are redacted before they are kept (dropped when None).
    new_version_reference
        ``inherit``: a version with no profile given starts from the reference of the
        model's most recent version that has one (in memory, or offered from storage
        through ``offer_reference``); ``own``: it learns its own (streams/core/rollout/).
    rollouts
        Canary verdicts and shadow joins between a model's versions (None: not compared).
    """

    def __init__(
        self,
        registry: SpecRegistry,
        config: MonitorConfig,
        *,
        max_versions: int = 500,
        profiles: Mapping[tuple[str, str], ReferenceProfile] | None = None,
        pii: PiiPolicy | None = None,
        new_version_reference: str = "inherit",
        rollouts: Rollouts | None = None,
    ) -> None:
        if new_version_reference not in MODES:
            raise ValueError(f"new_version_reference is one of {MODES}")
        self.registry = registry
        self.pii = pii or PiiPolicy(mode="drop")
        self.config = config
        self.profiles = dict(profiles or {})
        self.max_versions = max_versions
        self.monitors: dict[tuple[str, str], ModelMonitor] = {}
        self.unwatched = 0
        self.inherits = new_version_reference == "inherit"
        self.rollouts = rollouts
        # A reference found in storage for a model's next new version, by model id.
        self._offered: dict[str, ReferenceProfile] = {}

    def process(
        self,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
        rejected: Sequence[Rejection] = (),
    ) -> BatchOutcome:
        """Feed a batch (stream order kept per model version): the alerts raised, the model
        versions touched and what they judged, and the events no monitor judged. The
        batch's ``rejected`` records count in the canaries' rejection rates."""
        outcomes = []
        unwatched: Counter[tuple[str, str]] = Counter()
        for key, (group_events, group_positions) in _grouped(events, positions).items():
            monitor = self.monitors.get(key) or self._start(*key)
            if monitor is None:
                self.unwatched += len(group_events)
                reason = "warmup" if self.registry.spec_for(*key) is None else "monitor_limit"
                unwatched[key[0], reason] += len(group_events)
            else:
                outcomes.append(monitor.process(group_events, group_positions))
        if self.rollouts is not None:
            canary = self.rollouts.observe(events, positions, self.registry.spec_for)
            self.rollouts.reject(rejected)
            outcomes.append(BatchOutcome(alerts=tuple(canary)))
        return BatchOutcome.merged(outcomes, unwatched)

    def unloaded(self, events: Sequence[PredictionEvent]) -> list[tuple[str, str]]:
        """Model versions in ``events`` that have a spec but no monitor in memory yet: the
        ones whose stored state the caller should ``adopt`` before ``process``."""
        keys = dict.fromkeys((e.model_id, e.model_version) for e in events)
        return [
            key
            for key in keys
            if key not in self.monitors and self.registry.spec_for(*key) is not None
        ]

    def adopt(self, key: tuple[str, str], monitor: ModelMonitor) -> None:
        """Take over a monitor restored from storage."""
        if key in self.monitors or len(self.monitors) < self.max_versions:
            self.monitors[key] = monitor

    def restore_stored(
        self,
        key: tuple[str, str],
        *,
        snapshot: dict[str, Any] | None,
        profile: dict[str, Any] | None,
        reference: list[dict[str, Any]],
    ) -> ModelMonitor | None:
        """Adopt the version's monitor from its stored state: ``snapshot`` None means only a
        profile was registered (from training data), and the monitor starts on it. None if
        the version has no spec. Raises ``InvalidState`` for malformed state, and then
        adopts nothing: the next ``process`` starts the monitor fresh."""
        spec = self.registry.spec_for(*key)
        if spec is None:
            return None
        model_version, kind = key[1], _kind(spec)
        if snapshot is None:
            with restoring(f"profile of {spec.model_id}:{model_version}"):
                stored_profile = ReferenceProfile.from_dict(profile or {})
            monitor = kind(spec, model_version, self.config, stored_profile, pii=self.pii)
        else:
            monitor = kind.restore(
                snapshot, spec, model_version, self.config,
                profile=profile, reference=reference, pii=self.pii,
            )  # fmt: skip
        self.adopt(key, monitor)
        return monitor

    def explained(self, alerts: Sequence[Alert]) -> list[Alert]:
        """``alerts`` with each ``performance`` alert explained by the input features that
        drifted when the predictions it judged were made (the drift window holding its
        window's end, and the one before), as far as this process watches that version."""
        explained = []
        for alert in alerts:
            monitor = self.monitors.get((alert.model_id, alert.model_version))
            if alert.type == "performance" and alert.explanation is None and monitor:
                why = monitor.drifted.at(alert.window.end_ms)
                alert = alert if why is None else dataclasses.replace(alert, explanation=why)
            explained.append(alert)
        return explained

    def retire(self, keys: Sequence[tuple[str, str]]) -> None:
        """Drop the monitors of retired model versions (the registry's version cap)."""
        for key in keys:
            self.monitors.pop(key, None)

    def forget(self) -> None:
        """Drop every monitor, e.g. when partitions are revoked: storage has the truth."""
        self.monitors.clear()
        self._offered.clear()
        if self.rollouts is not None:
            self.rollouts.forget()

    def forget_models(self, model_ids: Collection[str]) -> None:
        """Drop what is held of ``model_ids`` (every version's monitor, the reference offered,
        the rollout): another worker saved them since, so storage has the truth."""
        for key in [k for k in self.monitors if k[0] in model_ids]:
            del self.monitors[key]
        for model_id in model_ids:
            self._offered.pop(model_id, None)
        if self.rollouts is not None:
            self.rollouts.forget_models(model_ids)

    def needs_reference(self, key: tuple[str, str]) -> bool:
        """Whether a new version ``key`` (no stored state) would inherit a reference but
        none is in memory: the caller may ``offer_reference`` a stored one first."""
        return (
            self.inherits and key not in self.profiles and key[0] not in self._offered
            and self._inheritable(key[0]) is None
        )  # fmt: skip

    def offer_reference(self, profile: ReferenceProfile) -> None:
        """A previous version's stored reference, for the model's next new version."""
        self._offered[profile.model_id] = profile

    def _start(self, model_id: str, model_version: str) -> ModelMonitor | None:
        spec = self.registry.spec_for(model_id, model_version)
        if spec is None or len(self.monitors) >= self.max_versions:
            return None
        profile = self.profiles.get((model_id, model_version))
        if profile is None and self.inherits:
            profile = self._inheritable(model_id)
            profile = None if profile is None else inherited(spec, [profile])
        monitor = self.monitors[model_id, model_version] = _kind(spec)(
            spec, model_version, self.config, profile, pii=self.pii
        )
        return monitor

    def _inheritable(self, model_id: str) -> ReferenceProfile | None:
        """The reference of the model's most recently started version that has one."""
        built = [m.profile for (m_id, _), m in self.monitors.items() if m_id == model_id]
        found = [p for p in built if p is not None]
        return found[-1] if found else self._offered.get(model_id)


def _kind(spec: ModelSpec) -> type[ModelMonitor]:
    """The monitor a version of ``spec`` gets: with its segments watched when it has some."""
    return SegmentedModelMonitor if spec.segments else ModelMonitor


def _grouped(
    events: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]]
) -> Mapping[tuple[str, str], tuple[Sequence[PredictionEvent], Sequence[tuple[int, int]]]]:
    """The batch by (model, version), stream order kept in each group."""
    if len(events) != len(positions):
        raise ValueError("events and positions differ in length")
    keys = list(map(_KEY, events))
    # Most batches are of one model version: no Python step per event to split them.
    if keys and keys.count(keys[0]) == len(keys):
        return {keys[0]: (events, positions)}
    groups: dict[tuple[str, str], tuple[list[PredictionEvent], list[tuple[int, int]]]] = {}
    for key, event, position in zip(keys, events, positions, strict=True):
        group = groups.get(key)
        if group is None:
            group = groups[key] = ([], [])
        group[0].append(event)
        group[1].append(position)
    return groups
