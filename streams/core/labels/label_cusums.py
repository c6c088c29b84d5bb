"""The label-by-label tests of one model version: what its reference allows, fed together,
judged together, stored together (each under its own name in the monitor's snapshot)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from streams.core.alerts.alert_rule import RuleState
from streams.core.labels.alert_budget import AlertBudget
from streams.core.labels.auc_cusum import AucCusum
from streams.core.labels.calibration_cusum import CalibrationCusum
from streams.core.labels.label_cusum import LabelCusum
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.performance_verdict import PerformanceVerdict

__all__ = ["LabelCusums"]


class LabelCusums(Mapping[str, LabelCusum[Any]]):
    """The ``auc_cusum`` and ``calibration_cusum`` of a reference, those it can hold to the
    budget (none without a reference, or for regression)."""

    def __init__(self, reference: LabelReference | None, budget: AlertBudget) -> None:
        found: list[LabelCusum[Any] | None] = []
        if reference is not None:
            found = [AucCusum.of(reference.placements, budget),
                     CalibrationCusum.of(reference.calibration, budget)]  # fmt: skip
        self._tests = {test.name: test for test in found if test is not None}

    def __getitem__(self, name: str) -> LabelCusum[Any]:
        return self._tests[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tests)

    def __len__(self) -> int:
        return len(self._tests)

    def update(self, score: np.ndarray, positive: np.ndarray, *, look: int) -> None:
        for test in self._tests.values():
            test.update(score, positive, look=look)

    def verdicts(self, *, look: int) -> list[PerformanceVerdict]:
        return [test.verdict(look=look) for test in self._tests.values()]

    def crossed(self, rules: Mapping[str, RuleState], *, look: int) -> list[PerformanceVerdict]:
        """The verdicts over their threshold whose rule is quiet and out of its cooldown:
        those worth judging between evaluations (the rules count calm and cooldown
        windows in evaluations)."""
        over = [v for v in self.verdicts(look=look) if v.value > v.threshold]
        return [v for v in over if not _busy(rules.get(v.rule))]

    def snapshot(self) -> dict[str, Any]:
        return {name: test.snapshot() for name, test in self._tests.items()}

    def restore(self, raw: Mapping[str, Any]) -> None:
        """Continue each test from its entry of ``snapshot()`` in ``raw``; a test without
        one (stored before it existed, or while the reference was learned) starts at 0."""
        for name, test in self._tests.items():
            if raw.get(name) is not None:
                test.restored(raw[name])


def _busy(state: RuleState | None) -> bool:
    return state is not None and (state.firing_since is not None or bool(state.cooldown))
