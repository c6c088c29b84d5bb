"""Performance verdicts judged by their uncertainty, not by a raw difference.

Each watched metric is compared with the reference over two views of the labelled window:
the newest ``short`` pairs (a sharp fall shows there first) and the whole window (a small
fall needs more labels to stand out). The statistic is the end of the confidence interval
of ``window - reference`` nearest to "no change", at the look's critical value ``z``
(``AlertBudget``): for a metric that should stay high, minus the interval's upper end (the
smallest drop the data allow); for an error, the interval's lower end relative to the
reference (the smallest relative rise). A verdict fires when that exceeds its margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.core.alerts.alert import Window
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.metric_estimates import Estimate, difference_interval
from streams.core.labels.performance import ClassificationWindow, RegressionWindow
from streams.core.labels.performance_verdict import PerformanceVerdict

__all__ = ["WATCHED", "PerformanceChecks", "views_per_look"]

WATCHED = {"classification": ("accuracy", "f1", "roc_auc"), "regression": ("mae", "rmse")}


def views_per_look(task: str) -> int:
    """One-sided tests at each look: every watched metric over both views and, for
    classification, the two label-by-label CUSUMs (``auc_cusum``, ``calibration_cusum``),
    each spending one test's share."""
    return 2 * len(WATCHED[task]) + 2 * (task == "classification")


@dataclass(frozen=True, slots=True)
class PerformanceChecks:
    """The margins and views of a performance judgement.

    Parameters
    ----------
    short
        Labels in the short view (the newest pairs of the window).
    min_labels
        A view with fewer labels is not judged.
    max_drop
        Margin of a classification metric's confident drop.
    max_error_rise
        Margin of an error's confident relative rise.
    """

    short: int
    min_labels: int
    max_drop: float
    max_error_rise: float

    def verdicts(
        self,
        window: ClassificationWindow | RegressionWindow,
        reference: LabelReference,
        z: float,
    ) -> list[tuple[PerformanceVerdict, Window]]:
        """One verdict per watched metric (its most confident change over the views), with
        the labelled window behind it."""
        views = [self.short, *([None] if len(window) > self.short else [])]
        judged = [(window.estimates(last=view), window.span(view),
                   min(len(window), view or len(window))) for view in views]  # fmt: skip
        judged = [j for j in judged if j[2] >= self.min_labels]
        found = []
        for name in WATCHED[reference.task]:
            best: tuple[float, Window] | None = None
            for estimates, (start, end), count in judged:
                value = self._change(estimates[name], reference.estimates[name], z,
                                     reference.task == "regression")  # fmt: skip
                if value is not None and (best is None or value > best[0]):
                    best = (value, Window(start, end, count))
            if best is not None:
                found.append((self._verdict(name, best[0], reference.task), best[1]))
        return found

    @staticmethod
    def _change(current: Estimate, reference: Estimate, z: float, error: bool) -> float | None:
        if not (current.usable and reference.usable):
            return None
        low, high = difference_interval(current, reference, z)
        if not error:
            return -high
        return low / reference.value if reference.value > 0 else None

    def _verdict(self, name: str, value: float, task: str) -> PerformanceVerdict:
        if task == "regression":
            return PerformanceVerdict("performance", name, None, f"{name}_rise_lower_bound",
                                      value, self.max_error_rise)  # fmt: skip
        return PerformanceVerdict("performance", name, None, f"{name}_drop_lower_bound",
                                  value, self.max_drop)  # fmt: skip
