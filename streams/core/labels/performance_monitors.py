"""Every watched model version's labels, fed from joined batches: the label side's core, which
the worker and ``replay`` share (the mirror of ``streams/core/drift/monitor.py``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from streams.core.alerts.alert import Alert
from streams.core.alerts.retrain_request import RetrainRequest
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.registry import SpecRegistry
from streams.core.contract.spec import ModelSpec
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor
from streams.core.labels.segment_performance import SegmentedPerformanceMonitor

__all__ = ["LabelledBatch", "PerformanceMonitors", "PerformanceOutcome"]

Key = tuple[str, str]
#: A joined pair and where its label was read (partition, offset).
LabelledAt = tuple[LabelledPrediction, tuple[int, int]]
LabelledBatch = Sequence[LabelledAt]


@dataclass(slots=True)
class PerformanceOutcome:
    """What one batch of joined pairs did, in the order the model versions came.

    ``touched``: the monitors that took pairs (their state is to be saved);
    ``unwatched``: pairs by model id whose version has no spec yet.
    """

    alerts: list[Alert] = field(default_factory=list)
    retrain_requests: list[RetrainRequest] = field(default_factory=list)
    touched: dict[Key, PerformanceMonitor] = field(default_factory=dict)
    unwatched: Counter[str] = field(default_factory=Counter)


class PerformanceMonitors:
    """Route each joined pair to its (model, version) ``PerformanceMonitor``, creating it once
    the version has a spec (fairness attributes seen through ``pii``'s view: kept PII
    attributes are hashed).

    Parameters
    ----------
    registry
        Where specs come from.
    config
        Windows, margins and the retraining policy of every monitor.
    pii
        How PII attributes are seen (dropped when None).
    references
        Reference performance given up front (from a profile's labelled validation set),
        by (model, version); other versions learn theirs from their first labels.
    """

    def __init__(
        self,
        registry: SpecRegistry,
        config: PerformanceConfig,
        *,
        pii: PiiPolicy | None = None,
        references: Mapping[Key, LabelReference] | None = None,
    ) -> None:
        self.registry = registry
        self.config = config
        self.pii = pii or PiiPolicy(mode="drop")
        self.references = dict(references or {})
        self.monitors: dict[Key, PerformanceMonitor] = {}

    def process(self, pairs: LabelledBatch) -> PerformanceOutcome:
        """Feed a batch (label order kept per model version); return what it produced."""
        outcome = PerformanceOutcome()
        for key, group in _grouped(pairs).items():
            monitor = self.monitors.get(key) or self._start(key)
            if monitor is None:
                outcome.unwatched[key[0]] += len(group)
                continue
            outcome.alerts += monitor.process([p for p, _ in group], [at for _, at in group])
            outcome.retrain_requests += monitor.take_retrain_requests()
            outcome.touched[key] = monitor
        return outcome

    def unloaded(self, pairs: LabelledBatch) -> dict[Key, LabelledAt]:
        """Model versions in ``pairs`` with a spec but no monitor in memory, each with its
        first pair: the ones whose stored state the caller should ``restore_stored`` first."""
        first: dict[Key, LabelledAt] = {}
        for pair, at in pairs:
            key = (pair.model_id, pair.model_version)
            if key not in first and key not in self.monitors and self._known(key):
                first[key] = (pair, at)
        return first

    def restore_stored(
        self, key: Key, snapshot: dict[str, Any] | None
    ) -> PerformanceMonitor | None:
        """Continue the version's monitor from its stored ``snapshot`` (None: start fresh);
        None if the version has no spec. Raises ``InvalidState`` for a malformed snapshot,
        and then keeps nothing: the next ``process`` starts the monitor fresh."""
        spec = self._spec(key)
        if spec is None:
            return None
        reference = self.references.get(key)
        # A spec with segments is judged per segment too (``segment_performance``).
        kind = SegmentedPerformanceMonitor if spec.segments else PerformanceMonitor
        if snapshot is None:
            monitor = kind(spec, key[1], self.config, reference)
        else:
            monitor = kind.restore(snapshot, spec, key[1], self.config, reference)
        self.monitors[key] = monitor
        return monitor

    def forget(self) -> None:
        """Drop every monitor, e.g. when partitions are revoked: storage has the truth."""
        self.monitors.clear()

    def forget_models(self, model_ids: Collection[str]) -> None:
        """Drop the monitors of every version of ``model_ids`` (another worker saved them)."""
        for key in [k for k in self.monitors if k[0] in model_ids]:
            del self.monitors[key]

    def _start(self, key: Key) -> PerformanceMonitor | None:
        return self.restore_stored(key, None)

    def _known(self, key: Key) -> bool:
        return self.registry.spec_for(*key) is not None

    def _spec(self, key: Key) -> ModelSpec | None:
        spec = self.registry.spec_for(*key)
        if spec is None:
            return None
        # A PII attribute dropped from the pairs has no values to segment by.
        kept = tuple(a for a in spec.segments if a not in spec.pii_attributes or self.pii.hashes)
        if kept != spec.segments:
            spec = replace(spec, segments=kept)
        return self.pii.fairness_view(spec)


def _grouped(pairs: LabelledBatch) -> dict[Key, list[LabelledAt]]:
    groups: dict[Key, list[LabelledAt]] = {}
    for pair, at in pairs:
        groups.setdefault((pair.model_id, pair.model_version), []).append((pair, at))
    return groups
