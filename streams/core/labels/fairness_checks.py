"""A model version's fairness windows (one per spec policy, by attribute) as the label side
uses them: fed with each batch's labelled predictions, judged into verdicts, restored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streams.core import plain_data as check
from streams.core.contract.columns import category_of
from streams.core.labels.fairness import FairnessWindow, confident_gaps
from streams.core.labels.labelled import LabelledPrediction
from streams.core.labels.performance_verdict import PerformanceVerdict

__all__ = ["add_labelled", "fairness_verdicts", "restore_windows"]

Windows = dict[str, FairnessWindow]


def add_labelled(
    windows: Windows, kept: Sequence[LabelledPrediction], columns: Mapping[str, np.ndarray]
) -> None:
    """Each window takes the batch's groups (its attribute's values), predictions and labels."""
    for attribute, window in windows.items():
        groups = [None if p.attributes is None else p.attributes.get(attribute) for p in kept]
        window.add([None if g is None else category_of(g) for g in groups],
                   columns["predicted_positive_class"],
                   columns["true_positive_class"])  # fmt: skip


def fairness_verdicts(windows: Windows) -> list[PerformanceVerdict]:
    """A verdict per fairness metric each window has enough data to bound."""
    return [PerformanceVerdict("fairness", f"fairness:{attribute}:{metric}", attribute,
                               f"{metric}_lower_bound", value, bound)
            for attribute, window in windows.items()
            for metric, value, bound in confident_gaps(window)]  # fmt: skip


def restore_windows(windows: Windows, stored: Any) -> Windows:
    """``windows`` with the stored state of each attribute still in the spec (policies from
    the spec: a stored window of a dropped policy is left out, a new policy starts empty)."""
    found = check.mapping(stored, "fairness")
    return {
        attribute: FairnessWindow.restore(found[attribute], window.policy)
        if attribute in found else window
        for attribute, window in windows.items()
    }  # fmt: skip
