"""The window a model version's monitor is filling, judged as if it closed now: what a live
report shows between two closed windows. Built by reading the detectors, never feeding
them, so looking at a monitor changes nothing it will later decide."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.core.alerts.alert_rule import RuleState
from streams.core.detectors import Verdict
from streams.core.detectors.psi import Psi
from streams.core.drift.detector_set import DetectorSet

__all__ = ["Judgement", "OpenWindow", "RuleKey", "open_window"]

#: (column kind, column name or None for the whole model, rule): one alert episode's key.
RuleKey = tuple[str, str | None, str]


@dataclass(frozen=True, slots=True)
class Judgement:
    """One rule of one column on the open window: the verdict that would speak for it if
    the window closed now, and the window its episode started (None: not firing)."""

    kind: str
    column: str | None
    rule: str
    verdict: Verdict
    firing_since: int | None

    @property
    def over(self) -> bool:
        """Whether the statistic is past its threshold now."""
        return self.verdict.value > self.verdict.threshold


@dataclass(frozen=True, slots=True)
class OpenWindow:
    """The open window: its number (windows closed before it), events so far and first
    event's time; every rule's judgement; each column's bin counts where PSI keeps them."""

    index: int
    events: int
    start_ms: int
    judgements: tuple[Judgement, ...]
    bin_counts: dict[str, tuple[int, ...]]


def open_window(
    detectors: DetectorSet,
    rules: Mapping[RuleKey, RuleState],
    *,
    index: int,
    events: int,
    start_ms: int,
) -> OpenWindow:
    """Judge the open window from ``detectors`` and the rule states ``rules`` (read only)."""

    def firing(kind: str, name: str | None, rule: str) -> bool:
        state = rules.get((kind, name, rule))
        return state is not None and state.firing_since is not None

    judgements = []
    for kind, name, detector, verdict in detectors.verdicts(firing):
        state = rules.get((kind, name, detector.rule))
        since = None if state is None else state.firing_since
        judgements.append(Judgement(kind, name, detector.rule, verdict, since))
    counts = {
        name: tuple(int(c) for c in detector.counts)
        for (_, name), column in detectors.columns.items()
        for detector in column
        if isinstance(detector, Psi)
    }
    return OpenWindow(index, events, start_ms, tuple(judgements), counts)
