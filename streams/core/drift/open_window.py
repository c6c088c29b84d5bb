"""The window a model version's monitor is filling, judged as if it closed now: what a live
report shows between two closed windows. Built by reading the detectors, never feeding
them, so looking at a monitor changes nothing it will later decide."""

from __future__ import annotations

from dataclasses import dataclass

from streams.core.detectors import Verdict
from streams.core.detectors.psi import Psi
from streams.core.drift.detector_set import DetectorSet
from streams.core.drift.episodes import Episodes

__all__ = ["Judgement", "OpenWindow", "open_window"]


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
    episodes: Episodes,
    *,
    index: int,
    events: int,
    start_ms: int,
) -> OpenWindow:
    """Judge the open window from ``detectors`` and ``episodes`` (read only)."""
    judgements = [
        Judgement(kind, name, detector.rule, verdict,
                  episodes.firing_since(kind, name, detector.rule))
        for kind, name, detector, verdict in detectors.verdicts(episodes.firing)
    ]  # fmt: skip
    counts = {
        name: tuple(int(c) for c in detector.counts)
        for (_, name), column in detectors.columns.items()
        for detector in column
        if isinstance(detector, Psi)
    }
    return OpenWindow(index, events, start_ms, tuple(judgements), counts)
