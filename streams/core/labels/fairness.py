"""Group fairness of a model over its last labelled predictions, for one sensitive attribute.

A model can keep its overall accuracy while it starts to select one group less often, or to
miss that group's true positives; only per-group rates over labelled predictions show it.
The window is a ring buffer of the last ``window_events`` labelled events with the
attribute, so memory is fixed however long the stream runs, and at most ``max_groups``
groups are named, so the groups (and any metric labels built from them) stay bounded.
Small groups are reported but never judged: their rates are mostly noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.labels.ring import ColumnRing

__all__ = [
    "FairnessPolicy",
    "FairnessReport",
    "FairnessWindow",
    "GroupRates",
    "Violation",
    "confident_gaps",
]

_COLUMNS = {"group": np.int32, "predicted": np.bool_, "truth": np.bool_}

OTHER_GROUP = "__other__"
_MISSING = -1  # the attribute was absent: such events are not kept
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class FairnessPolicy:
    """Which attribute to judge, against which group, and the bounds a model must keep.

    A rate over 100 events has a standard error of up to 0.05, so a difference near 0.1
    between groups of ``min_group_size`` events can be chance (true positive rates, over
    positives only, the more so); raise it for fewer false alerts. ``max_groups`` counts the
    reference group; further groups share ``"__other__"``.
    """

    attribute: str
    reference_group: str
    min_group_size: int = 100
    max_parity_difference: float = 0.1
    max_equal_opportunity_difference: float = 0.1
    min_disparate_impact: float = 0.8  # the four-fifths rule
    max_groups: int = 50

    def __post_init__(self) -> None:
        if not self.attribute or self.reference_group in ("", OTHER_GROUP):
            raise ValueError(f"attribute and reference_group must be non-empty, not {OTHER_GROUP}")
        if not isinstance(self.min_group_size, int) or self.min_group_size < 1:
            raise ValueError("min_group_size must be a positive integer")
        if not isinstance(self.max_groups, int) or self.max_groups < 2:
            raise ValueError("max_groups must be an integer of at least 2")
        differences = (self.max_parity_difference, self.max_equal_opportunity_difference)
        if not all(0 < d < 1 for d in differences) or not 0 < self.min_disparate_impact <= 1:
            raise ValueError("difference bounds must lie in (0, 1), min_disparate_impact in (0, 1]")


@dataclass(frozen=True, slots=True)
class GroupRates:
    """A group's rates over the window; a rate without events to divide by is NaN."""

    count: int
    positives: int  # labelled positive: the events its true positive rate is over
    selection_rate: float
    true_positive_rate: float
    false_positive_rate: float


@dataclass(frozen=True, slots=True)
class Violation:
    """A group whose ``metric`` against the reference group is past ``bound``."""

    metric: str
    group: str
    value: float
    bound: float


@dataclass(frozen=True, slots=True)
class FairnessReport:
    """The three summary metrics, the group that sets each (None if NaN), and violations.

    ``judgeable`` is False when the reference group, or every other group, has fewer than
    ``min_group_size`` events: then every metric is NaN and there are no violations.
    """

    attribute: str
    reference_group: str
    judgeable: bool
    judged_groups: tuple[str, ...]
    demographic_parity_difference: float
    demographic_parity_group: str | None
    equal_opportunity_difference: float
    equal_opportunity_group: str | None
    disparate_impact_ratio: float
    disparate_impact_group: str | None
    violations: tuple[Violation, ...]


class FairnessWindow:
    """Selection and true positive rates per group over the last ``window_events`` events.

    Parameters
    ----------
    policy
        The attribute, reference group and bounds judged.
    window_events
        Labelled events kept (those whose attribute is missing are not kept).

    Examples
    --------
    >>> rng = np.random.default_rng(5)
    >>> group = rng.choice(["a", "b"], 4000)
    >>> truth = rng.random(4000) < 0.4
    >>> predicted = rng.random(4000) < np.where(group == "a", 0.6, 0.3)
    >>> window = FairnessWindow(FairnessPolicy("region", "a"), window_events=2000)
    >>> window.add(group.tolist(), predicted, truth)
    >>> report = window.judge()
    >>> round(report.disparate_impact_ratio, 3), report.disparate_impact_group
    (0.46, 'b')
    >>> [(v.metric, v.group) for v in report.violations]  # doctest: +NORMALIZE_WHITESPACE
    [('demographic_parity_difference', 'b'), ('equal_opportunity_difference', 'b'),
     ('disparate_impact_ratio', 'b')]
    """

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(self, policy: FairnessPolicy, *, window_events: int = 5000) -> None:
        if not isinstance(window_events, int) or window_events < 1:
            raise ValueError("window_events must be a positive integer")
        self.policy = policy
        self.window_events = window_events
        # An event's code is its group's index here; the reference group is named before
        # any other, so it can never overflow into "__other__".
        self._names = [OTHER_GROUP, policy.reference_group]
        self._index = {name: code for code, name in enumerate(self._names)}
        self._ring = ColumnRing(window_events, _COLUMNS)

    def __len__(self) -> int:
        return len(self._ring)

    def add(
        self,
        groups: Sequence[str | None],
        predicted_positive: np.ndarray,
        true_positive: np.ndarray,
    ) -> None:
        """Take a batch: each event's group (None if missing), prediction and label.

        Raises ``ValueError``, leaving the window unchanged, if the lengths differ, a group
        is neither a string nor None, or the two columns are not 1-D boolean arrays.
        """
        predicted = _booleans(predicted_positive, "predicted_positive")
        truth = _booleans(true_positive, "true_positive")
        if not len(groups) == predicted.size == truth.size:
            raise ValueError("groups, predicted_positive and true_positive differ in length")
        try:
            # First-appearance order (not a set's hash order), so the same stream always
            # names the same groups once max_groups is reached.
            codes: dict[str | None, int] = dict.fromkeys(groups, _MISSING)
        except TypeError as exc:
            raise ValueError("groups must be strings or None") from exc
        if not all(value is None or isinstance(value, str) for value in codes):
            raise ValueError("groups must be strings or None")
        for value in codes:
            codes[value] = self._code(value)
        # One lookup per distinct group in Python; the per-event mapping runs in C.
        group = np.fromiter(map(codes.__getitem__, groups), np.int32, len(groups))
        kept = group != _MISSING
        self._ring.push({"group": group[kept], "predicted": predicted[kept],
                         "truth": truth[kept]})  # fmt: skip

    def _code(self, value: str | None) -> int:
        if value is None:
            return _MISSING
        code = self._index.get(value)
        if code is None and len(self._names) <= self.policy.max_groups:
            code = self._index[str(value)] = len(self._names)
            self._names.append(str(value))
        return 0 if code is None else code

    def _tallies(self) -> dict[str, np.ndarray]:
        # Indexed by code: 0 is "__other__", 1 the reference group.
        rows, k = self._ring.rows(), len(self._names)
        code, predicted, truth = rows["group"], rows["predicted"], rows["truth"]
        count = np.bincount(code, minlength=k)
        positives = np.bincount(code[truth], minlength=k)
        hits = np.bincount(code[predicted & truth], minlength=k)
        false_alarms = np.bincount(code[predicted & ~truth], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"count": count, "positives": positives,
                    "selection": (hits + false_alarms) / count, "tpr": hits / positives,
                    "fpr": false_alarms / (count - positives)}  # fmt: skip

    def groups(self) -> dict[str, GroupRates]:
        """Rates of each group with events in the window, ``"__other__"`` last."""
        t, names = self._tallies(), self._names
        return {
            names[i]: GroupRates(int(t["count"][i]), int(t["positives"][i]),
                                     float(t["selection"][i]), float(t["tpr"][i]),
                                     float(t["fpr"][i]))
            for i in [*range(1, len(names)), 0] if t["count"][i] > 0
        }  # fmt: skip

    def judge(self) -> FairnessReport:
        """Each group against the reference group; ``"__other__"`` is reported, not judged.

        Parity and disparate impact judge groups with ``min_group_size`` events; equal
        opportunity only those with ``min_group_size`` labelled positives, as a true positive
        rate is over positives. Disparate impact is NaN when the reference selects no one.
        """
        p, t = self.policy, self._tallies()
        names, m = np.array(self._names, dtype=object), p.min_group_size
        others = np.arange(2, len(names))
        judged = others[t["count"][others] >= m]
        if t["count"][1] < m or judged.size == 0:
            return FairnessReport(p.attribute, p.reference_group, False, (),
                                  _NAN, None, _NAN, None, _NAN, None, ())  # fmt: skip
        selection, tpr, positives = t["selection"], t["tpr"], t["positives"]
        # The reference selecting no one leaves the ratio undefined, not infinite.
        ratio = selection[judged] / selection[1] if selection[1] else np.full(judged.size, _NAN)
        enough = judged[positives[judged] >= m] if positives[1] >= m else judged[:0]
        # (metric, groups, values, bound, +1 if values above the bound violate, -1 if below)
        metrics = (
            ("demographic_parity_difference", judged, np.abs(selection[judged] - selection[1]),
             p.max_parity_difference, 1),
            ("equal_opportunity_difference", enough, np.abs(tpr[enough] - tpr[1]),
             p.max_equal_opportunity_difference, 1),
            ("disparate_impact_ratio", judged, ratio, p.min_disparate_impact, -1),
        )  # fmt: skip
        violations = tuple(
            Violation(metric, names[g], float(value), bound)
            for metric, groups, values, bound, side in metrics
            for g, value in zip(groups, values, strict=True)
            if side * (value - bound) > 0  # False for NaN
        )
        extremes = [_extreme(values, names[groups], side) for _, groups, values, _, side in metrics]
        return FairnessReport(p.attribute, p.reference_group, True, tuple(names[judged]),
                              *extremes[0], *extremes[1], *extremes[2], violations)  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        """The window as plain JSON data, for ``restore``."""
        return {"version": self.SNAPSHOT_VERSION, "attribute": self.policy.attribute,
                "window_events": self.window_events, "names": list(self._names),
                **self._ring.snapshot()}  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any, policy: FairnessPolicy) -> Self:
        """A window continuing from ``snapshot``, judged under ``policy``; ``InvalidState``
        for anything malformed.

        The bounds may change between snapshot and restore; the attribute and reference
        group may not, and ``max_groups`` must still hold the groups already named.
        """
        raw = check.version(snapshot, "fairness", cls.SNAPSHOT_VERSION)
        with check.restoring("fairness"):
            return cls._restore(raw, policy)

    @classmethod
    def _restore(cls, snapshot: Any, policy: FairnessPolicy) -> Self:
        names = snapshot["names"]
        if snapshot["attribute"] != policy.attribute or names[1] != policy.reference_group:
            raise check.InvalidState("fairness: taken for another attribute or reference group")
        if len(names) > policy.max_groups + 1:
            raise check.InvalidState("fairness: names more groups than policy.max_groups")
        window = cls(policy, window_events=snapshot["window_events"])
        window._ring = ColumnRing.restore(snapshot, window.window_events, _COLUMNS)
        group = window._ring.rows()["group"]
        if group.size and not 0 <= group.min() <= group.max() < len(names):
            raise check.InvalidState("fairness: an unknown group code")
        window._names = list(names)
        window._index = {name: i for i, name in enumerate(names)}
        return window


def _booleans(values: np.ndarray, name: str) -> np.ndarray:
    # Booleans only: silently reading 0.7 as True would hide an unreduced score column.
    array = np.asarray(values)
    if array.dtype != np.bool_ or array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D boolean array")
    return array


def _extreme(values: np.ndarray, names: np.ndarray, side: int) -> tuple[float, str | None]:
    # The worst defined value (largest if side is +1, smallest if -1), first group on ties.
    if np.isnan(values).all():  # also when there are no values
        return _NAN, None
    i = int(np.nanargmax(side * values))
    return float(values[i]), str(names[i])


def confident_gaps(window: FairnessWindow, *, z: float = 2.576) -> list[tuple[str, float, float]]:
    """(metric, value, bound) of the worst group per metric, each value the end of its
    two-sided confidence interval (99% by default) nearest to fairness; [] when not judgeable.

    A group just past ``min_group_size`` differs from the reference by chance by more than a
    0.1 bound often enough (two groups of 250: one sd of a selection-rate difference is
    0.045), so a bound counts as broken only when the difference is clear of chance. The
    disparate impact ratio is turned into a shortfall, ``1 - ratio`` against
    ``1 - min_disparate_impact``, so that every value breaks its bound by exceeding it.
    """
    report = window.judge()
    if not report.judgeable:
        return []
    policy, rates = window.policy, window.groups()
    ref = rates[policy.reference_group]
    gaps = []
    if (group := report.demographic_parity_group) is not None:
        g = rates[group]
        spread = z * math.sqrt(
            _var(g.selection_rate, g.count) + _var(ref.selection_rate, ref.count)
        )
        gaps.append(("demographic_parity_difference",
                     report.demographic_parity_difference - spread,
                     policy.max_parity_difference))  # fmt: skip
    if (group := report.equal_opportunity_group) is not None:
        g = rates[group]
        spread = z * math.sqrt(_var(g.true_positive_rate, g.positives)
                               + _var(ref.true_positive_rate, ref.positives))  # fmt: skip
        gaps.append(("equal_opportunity_difference",
                     report.equal_opportunity_difference - spread,
                     policy.max_equal_opportunity_difference))  # fmt: skip
    group = report.disparate_impact_group
    if group is not None and rates[group].selection_rate > 0 and ref.selection_rate > 0:
        g = rates[group]
        # The ratio's upper end, on the log scale where its interval is symmetric.
        spread = z * math.sqrt(_log_ratio_var(g) + _log_ratio_var(ref))
        upper = report.disparate_impact_ratio * math.exp(spread)
        gaps.append(("disparate_impact_shortfall", 1 - min(upper, 1.0),
                     1 - policy.min_disparate_impact))  # fmt: skip
    return [gap for gap in gaps if math.isfinite(gap[1])]


def _log_ratio_var(rates: GroupRates) -> float:
    return (1 - rates.selection_rate) / (rates.count * rates.selection_rate)


def _var(rate: float, count: int) -> float:
    return rate * (1 - rate) / count if count else math.inf
