"""Every model's rollout state: the canary pairs and shadow join of its versions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from streams.core.alerts.alert import Alert
from streams.core.contract.event import PredictionEvent
from streams.core.contract.ingestor import Rejection
from streams.core.contract.spec import ModelSpec
from streams.core.labels.labelled import LabelledPrediction
from streams.core.rollout.canary import CanaryConfig, ModelRollout

__all__ = ["Rollouts"]


class Rollouts:
    """Route each batch's events to their model's ``ModelRollout``.

    A model's rollout starts with its first event (or from stored state through
    ``adopt``); ``take_touched`` names the models whose state changed since the last call,
    for the caller to store. At most ``max_models`` are held: the least recently fed one
    is dropped first (storage has the truth).
    """

    def __init__(self, config: CanaryConfig, *, max_models: int = 10_000) -> None:
        self.config = config
        self.max_models = max_models
        self.models: dict[str, ModelRollout] = {}
        self._touched: dict[str, None] = {}

    def observe(
        self,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
        spec_for: Callable[[str, str], ModelSpec | None],
    ) -> list[Alert]:
        """Feed a batch (stream order kept per model): the canary alerts it raised."""
        alerts = []
        for model_id, (batch, at) in _by_model(events, positions).items():
            spec = spec_for(model_id, batch[-1].model_version)
            positive = None if spec is None or spec.task == "regression" else spec.positive_classes
            alerts += self._rollout(model_id).observe(batch, at, positive)
            self._touched[model_id] = None
        return alerts

    def reject(self, rejected: Sequence[Rejection]) -> None:
        """Count rejected records per (model, version) in their rollout's open window: only
        versions it has seen events of, so a flood of invalid records naming made-up
        versions cannot push the real ones out."""
        counts = Counter(
            (r.model_id, r.model_version) for r in rejected if r.model_id and r.model_version
        )
        for (model_id, version), count in counts.items():
            rollout = self.models.get(model_id or "")
            if model_id and rollout is not None and version in rollout.versions:
                rollout.reject(version, count)
                self._touched[model_id] = None

    def label(
        self,
        pairs: Sequence[tuple[LabelledPrediction, tuple[int, int]]],
        spec_for: Callable[[str, str], ModelSpec | None],
    ) -> list[Alert]:
        """Count joined (prediction, label) pairs toward their versions' accuracy (models
        with a rollout in memory, classification only): the canary alerts they raised."""
        groups: dict[str, tuple[list[LabelledPrediction], list[tuple[int, int]]]] = {}
        for pair, at in pairs:
            if pair.model_id in self.models:
                group = groups.setdefault(pair.model_id, ([], []))
                group[0].append(pair)
                group[1].append(at)
        alerts = []
        for model_id, (batch, where) in groups.items():
            spec = spec_for(model_id, batch[-1].model_version)
            if spec is not None and spec.task != "regression":
                alerts += self.models[model_id].label(batch, where)
                self._touched[model_id] = None
        return alerts

    def unloaded(
        self, events: Sequence[PredictionEvent], rejected: Sequence[Rejection] = ()
    ) -> list[str]:
        """Models in ``events`` (or named by ``rejected``) with no rollout in memory: the
        ones to ``adopt`` first."""
        named = [e.model_id for e in events] + [r.model_id for r in rejected if r.model_id]
        return [m for m in dict.fromkeys(named) if m not in self.models]

    def adopt(self, model_id: str, snapshot: Any) -> None:
        """Take over a model's stored state (``InvalidState`` if malformed: nothing adopted,
        the model starts afresh)."""
        self.models[model_id] = ModelRollout.restore(snapshot, model_id, self.config)

    def take_touched(self) -> dict[str, dict[str, Any]]:
        """The snapshots of the models fed since the last call."""
        touched, self._touched = self._touched, {}
        return {m: self.models[m].snapshot() for m in touched if m in self.models}

    def snapshots(self, model_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The snapshots of those of ``model_ids`` held here, changed since or not."""
        return {m: self.models[m].snapshot() for m in model_ids if m in self.models}

    def forget_models(self, model_ids: Iterable[str]) -> None:
        """Drop these models' state, saved or not: it is read again from storage."""
        for model_id in model_ids:
            self.models.pop(model_id, None)
            self._touched.pop(model_id, None)

    def forget(self) -> None:
        self.models.clear()
        self._touched.clear()

    def _rollout(self, model_id: str) -> ModelRollout:
        rollout = self.models.pop(model_id, None) or ModelRollout(model_id, self.config)
        self.models[model_id] = rollout  # most recently fed last
        while len(self.models) > self.max_models:
            self.models.pop(next(iter(self.models)))
        return rollout


def _by_model(
    events: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]]
) -> dict[str, tuple[Sequence[PredictionEvent], Sequence[tuple[int, int]]]]:
    """The batch split by model, stream order kept (one model: the batch itself)."""
    models = {e.model_id for e in events}
    if len(models) == 1:  # the usual batch of a by-model partition
        return {models.pop(): (events, positions)}
    groups: dict[str, tuple[list[PredictionEvent], list[tuple[int, int]]]] = {}
    for event, position in zip(events, positions, strict=True):
        group = groups.setdefault(event.model_id, ([], []))
        group[0].append(event)
        group[1].append(position)
    return dict(groups)
