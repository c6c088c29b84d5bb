"""Canary verdicts: a model's versions compared on the same time windows.

Event time is cut into tumbling windows of ``window_s``. When a window closes, every version
that had events in it is paired with its baseline (the busiest version in that window that
was seen before it), and each pair adds the window's tallies to its totals: only periods
where both versions ran count, so a time-of-day effect does not pass for a version's. The
pair is then judged on its totals (``checks``): fail if any check fails, pass once the score
distribution and the positive rate pass (and the accuracy, once both have ``min_labels``
labels) and nothing fails, else inconclusive. A ``canary`` alert says each change to pass or
fail. Rejected records of a version count in the open window (``reject``); labels count in
the window of their prediction (``label``): the open one's tallies, or the pairs formed in
one of the last ``label_windows`` closed windows, which are then judged again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.alerts.alert import Alert, Trigger, Window
from streams.core.contract.columns import category_of
from streams.core.contract.event import PredictionEvent
from streams.core.labels.labelled import LabelledPrediction
from streams.core.rollout.checks import (
    Check,
    Outcome,
    accuracy_check,
    latency_check,
    rate_check,
    score_check,
)
from streams.core.rollout.shadow import ShadowJoin, Waiting
from streams.core.rollout.tally import Tally

__all__ = ["CanaryConfig", "ModelRollout"]

_SEVERITY: dict[str, Literal["info", "warning", "critical"]] = {
    "pass": "info", "fail": "critical", "inconclusive": "warning"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    """How versions are compared (``alpha`` per check; tolerances are what counts as a
    difference worth failing a rollout for)."""

    window_s: float = 60.0
    min_events: int = 500
    alpha: float = 0.001
    max_score_shift: float = 0.1
    max_rate_difference: float = 0.05
    max_latency_ratio: float = 1.5
    max_versions: int = 8
    shadow_ttl_s: float = 600.0
    shadow_max_pending: int = 10_000
    min_labels: int = 200
    max_accuracy_drop: float = 0.05
    label_windows: int = 1440

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.min_events < 10 or self.max_versions < 2:
            raise ValueError("window_s must be positive, min_events >= 10, max_versions >= 2")
        if not 0 < self.alpha < 1 or min(self.max_score_shift, self.max_rate_difference) <= 0:
            raise ValueError("alpha must be in (0, 1) and the tolerances positive")
        if self.max_latency_ratio <= 1:
            raise ValueError("max_latency_ratio must be above 1")
        if self.min_labels < 10 or self.max_accuracy_drop <= 0 or self.label_windows < 1:
            raise ValueError("min_labels must be >= 10, max_accuracy_drop and label_windows > 0")

    @property
    def window_ms(self) -> int:
        return max(1, round(self.window_s * 1000))


class _Pair:
    """A (baseline, candidate) pair's totals over the windows both ran in, and its verdict."""

    def __init__(self) -> None:
        self.baseline, self.candidate = Tally(), Tally()
        self.windows = 0
        self.verdict: Outcome = "inconclusive"
        self.checks: list[dict[str, Any]] = []

    def snapshot(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.snapshot(), "candidate": self.candidate.snapshot(),
            "windows": self.windows, "verdict": self.verdict, "checks": self.checks,
        }  # fmt: skip

    @classmethod
    def restore(cls, raw: Any) -> _Pair:
        data = check.mapping(raw, "pair", ("baseline", "candidate", "windows", "verdict", "checks"))
        pair = cls()
        pair.baseline = Tally.restore(data["baseline"])
        pair.candidate = Tally.restore(data["candidate"])
        pair.windows = check.integer(data["windows"], "pair.windows")
        if data["verdict"] not in _SEVERITY:
            raise check.InvalidState("pair.verdict: not pass, fail or inconclusive")
        pair.verdict = data["verdict"]
        checks = check.listing(data["checks"], "pair.checks", max_length=10)
        pair.checks = [dict(check.mapping(c, "pair.checks[]")) for c in checks]
        return pair


class ModelRollout:
    """The canary pairs and shadow join of one model's versions.

    ``observe`` takes a batch of the model's events in stream order (``positive``: the
    prediction categories counted as positive, None for regression) and returns the canary
    alerts of the windows it closed.
    """

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(self, model_id: str, config: CanaryConfig) -> None:
        self.model_id = model_id
        self.config = config
        self.versions: list[str] = []
        self.window: int | None = None
        self.open: dict[str, Tally] = {}
        self.pairs: dict[tuple[str, str], _Pair] = {}
        #: The pairs formed in each of the last ``label_windows`` closed windows, oldest
        #: first: where a late label of one of their versions counts.
        self.paired: dict[int, list[tuple[str, str]]] = {}
        self.shadow = ShadowJoin(ttl_ms=round(config.shadow_ttl_s * 1000),
                                 max_pending=config.shadow_max_pending)  # fmt: skip

    def observe(self, events: Sequence[PredictionEvent], positions: Sequence[tuple[int, int]],
                positive: frozenset[str] | None) -> list[Alert]:  # fmt: skip
        alerts: list[Alert] = []
        windows = np.array([e.timestamp_ms for e in events], dtype=np.int64)
        windows //= self.config.window_ms
        start = 0
        while start < len(events):
            wid = int(windows[start])
            if self.window is None or wid > self.window:
                alerts += self._close(_trigger(events[start], positions[start]))
                self.window = wid
            # A late event (an earlier window's) counts in the open window.
            later = np.flatnonzero(windows[start:] > self.window)
            end = len(events) if later.size == 0 else start + int(later[0])
            self._add(events[start:end], positive)
            start = end
        return alerts

    def reject(self, version: str, count: int) -> None:
        """Count rejected events of ``version`` in the open window (its rejection rate)."""
        self._see(version)
        self.open.setdefault(version, Tally()).rejected += count

    def label(self, pairs: Sequence[LabelledPrediction],
              positions: Sequence[tuple[int, int]]) -> list[Alert]:  # fmt: skip
        """Count classification labels toward their version's accuracy in the window of their
        prediction; the canary alerts of the pairs judged again (labels of a closed window
        not among the last ``label_windows``, or of a version not paired in it, count
        nowhere)."""
        window_ms = self.config.window_ms
        judged: dict[tuple[str, str], int] = {}  # pair -> its last label
        for i, pair in enumerate(pairs):
            wid, version = pair.predicted_at_ms // window_ms, pair.model_version
            hit = int(category_of(pair.prediction) == category_of(pair.label))
            if wid == self.window:
                sides = [self.open.get(version)] if version in self.open else []
            else:
                keys = [k for k in self.paired.get(wid, ()) if version in k and k in self.pairs]
                sides = [self._side(k, version) for k in keys]
                judged.update((k, i) for k in keys)
            for side in sides:
                if side is not None:
                    side.labelled += 1
                    side.correct += hit
        alerts = []
        for (baseline, candidate), i in judged.items():
            last = pairs[i]
            trigger = Trigger(last.event_id, positions[i][0], positions[i][1], last.labelled_at_ms)
            alert = self._judge(baseline, candidate, self.pairs[baseline, candidate],
                                len(pairs), trigger, last.predicted_at_ms // window_ms)  # fmt: skip
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _side(self, key: tuple[str, str], version: str) -> Tally:
        pair = self.pairs[key]
        return pair.baseline if key[0] == version else pair.candidate

    def verdict(self, baseline: str, candidate: str) -> dict[str, Any] | None:
        """The pair's current verdict and evidence; None if they never ran together."""
        pair = self.pairs.get((baseline, candidate))
        return None if pair is None else self._report(baseline, candidate, pair)

    def _see(self, version: str) -> None:
        if version not in self.versions:
            self.versions.append(version)
            if len(self.versions) > self.config.max_versions:
                self._drop(self.versions.pop(0))

    def _drop(self, version: str) -> None:
        self.open.pop(version, None)
        self.pairs = {k: p for k, p in self.pairs.items() if version not in k}
        self.paired = {w: [k for k in ks if version not in k] for w, ks in self.paired.items()}
        self.shadow.forget(set(self.versions))

    def _add(self, events: Sequence[PredictionEvent], positive: frozenset[str] | None) -> None:
        """Count a run of one window's events: per event only what numpy cannot do."""
        by_version: dict[str, list[int]] = {}
        for i, event in enumerate(events):
            by_version.setdefault(event.model_version, []).append(i)
        for version in by_version:
            self._see(version)
        predictions = [category_of(e.prediction) for e in events]
        if len(self.versions) > 1:  # a model with one version has no twins to join
            self.shadow.add_many(
                (e.event_id, Waiting(e.model_version, e.timestamp_ms, p, _nan(e.score)))
                for e, p in zip(events, predictions, strict=True)
            )
        # None becomes NaN in a float array.
        scores = np.array([e.score for e in events], dtype=float)
        latencies = np.array([e.latency_ms for e in events], dtype=float)
        hits = np.array([positive is not None and p in positive for p in predictions], dtype=bool)
        for version, at in by_version.items():
            rows = slice(None) if len(by_version) == 1 else np.array(at)
            tally = self.open.setdefault(version, Tally())
            tally.add(scores[rows], positives=int(hits[rows].sum()), latencies=latencies[rows])

    def _close(self, trigger: Trigger) -> list[Alert]:
        """Pair the open window's versions with their baselines and judge each pair."""
        ran = [v for v in self.versions if self.open.get(v) and self.open[v].events]
        alerts = []
        for i, candidate in enumerate(ran[1:], start=1):
            baseline = max(ran[:i], key=lambda v: self.open[v].events)
            self._pairs_in_window().append((baseline, candidate))
            pair = self.pairs.setdefault((baseline, candidate), _Pair())
            pair.baseline.merge(self.open[baseline])
            pair.candidate.merge(self.open[candidate])
            pair.windows += 1
            count = self.open[baseline].events + self.open[candidate].events
            assert self.window is not None  # a window with events was opened
            alert = self._judge(baseline, candidate, pair, count, trigger, self.window)
            if alert is not None:
                alerts.append(alert)
        self.open = {}
        return alerts

    def _pairs_in_window(self) -> list[tuple[str, str]]:
        """The open window's list of pairs, created (and the oldest dropped) on first use."""
        assert self.window is not None
        if self.window not in self.paired:
            self.paired[self.window] = []
            while len(self.paired) > self.config.label_windows:
                self.paired.pop(next(iter(self.paired)))
        return self.paired[self.window]

    def _judge(self, baseline: str, candidate: str, pair: _Pair, count: int,
               trigger: Trigger, window: int) -> Alert | None:  # fmt: skip
        checks = self._checks(pair)
        outcomes = {c.outcome for c in checks}
        # The accuracy must pass too once both versions have enough labels.
        labelled = min(pair.baseline.labelled, pair.candidate.labelled) >= self.config.min_labels
        needed = checks[:2] + [c for c in checks if c.name == "accuracy" and labelled]
        verdict: Outcome = (
            "fail" if "fail" in outcomes else
            "pass" if all(c.outcome == "pass" for c in needed) else "inconclusive"
        )  # fmt: skip
        pair.checks = [c.to_dict() for c in checks]
        changed, pair.verdict = verdict != pair.verdict, verdict
        if not changed or verdict == "inconclusive":
            return None
        return self._alert(baseline, candidate, pair, checks, count, trigger, window)

    def _checks(self, pair: _Pair) -> list[Check]:
        """Score distribution and positive rate first (a pass needs both), then the rest."""
        c, b, cfg = pair.candidate, pair.baseline, self.config
        n = cfg.min_events
        rate: dict[str, Any] = {
            "min_events": n, "alpha": cfg.alpha, "tolerance": cfg.max_rate_difference
        }  # fmt: skip
        checks = [
            score_check(b, c, min_events=n, alpha=cfg.alpha, tolerance=cfg.max_score_shift),
            rate_check("positive_rate", (b.positives, b.events), (c.positives, c.events), **rate),
            latency_check(b, c, min_events=n, max_ratio=cfg.max_latency_ratio),
        ]
        if b.rejected or c.rejected:
            checks.append(rate_check("rejection_rate", (b.rejected, b.events + b.rejected),
                                     (c.rejected, c.events + c.rejected), **rate))  # fmt: skip
        if b.labelled or c.labelled:
            checks.append(accuracy_check(b, c, min_labels=cfg.min_labels, alpha=cfg.alpha,
                                         tolerance=cfg.max_accuracy_drop))  # fmt: skip
        return checks

    def _report(self, baseline: str, candidate: str, pair: _Pair) -> dict[str, Any]:
        return {
            "model_id": self.model_id, "baseline": baseline, "candidate": candidate,
            "verdict": pair.verdict, "windows": pair.windows,
            "events": {"baseline": pair.baseline.events, "candidate": pair.candidate.events},
            "checks": pair.checks, "shadow": self.shadow.summary(baseline, candidate),
        }  # fmt: skip

    def _alert(self, baseline: str, candidate: str, pair: _Pair, checks: list[Check],
               count: int, trigger: Trigger, window: int) -> Alert:  # fmt: skip
        """The alert of a verdict's change: its window is the one that just closed, or the
        labels' (``count`` events or labels); the sample sizes of the whole comparison are
        in ``canary``."""
        lead = next((c for c in checks if c.outcome == pair.verdict), checks[0])
        start = window * self.config.window_ms
        return Alert(
            type="canary",
            status="firing" if pair.verdict == "fail" else "resolved",
            severity=_SEVERITY[pair.verdict],
            model_id=self.model_id,
            model_version=candidate,
            feature=None,
            detector="canary",
            statistic_name=f"{lead.name}.{lead.statistic}",
            value=lead.value,
            threshold=lead.threshold,
            window=Window(start, start + self.config.window_ms - 1, count),
            trigger=trigger,
            episode=f"canary/{baseline}/{pair.verdict}/w{window}",
            message=f"canary {candidate} vs {baseline}: {pair.verdict} ({lead.name} "
            f"{lead.statistic} {lead.value:.4f}, tolerance {lead.threshold:g}) after "
            f"{pair.windows} windows, {pair.candidate.events} candidate events",
            canary=self._report(baseline, candidate, pair),
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": self.SNAPSHOT_VERSION, "model_id": self.model_id,
            "versions": list(self.versions), "window": self.window,
            "open": {v: t.snapshot() for v, t in self.open.items()},
            "pairs": [[b, c, p.snapshot()] for (b, c), p in self.pairs.items()],
            "paired": [[w, [list(k) for k in keys]] for w, keys in self.paired.items()],
            "shadow": self.shadow.snapshot(),
        }  # fmt: skip

    @classmethod
    def restore(cls, snapshot: Any, model_id: str, config: CanaryConfig) -> Self:
        with check.restoring(f"rollout state of {model_id}"):
            raw = check.version(snapshot, "rollout", cls.SNAPSHOT_VERSION)
            rollout = cls(model_id, config)
            versions = check.listing(raw["versions"], "versions", max_length=config.max_versions)
            rollout.versions = [check.text(v, "versions[]", max_length=64) for v in versions]
            rollout.window = check.optional(check.integer, raw["window"], "window")
            opened = check.mapping(raw["open"], "open")
            rollout.open = {v: Tally.restore(t) for v, t in opened.items() if v in versions}
            for item in check.listing(raw["pairs"], "pairs", max_length=config.max_versions**2):
                baseline, candidate, pair = check.listing(item, "pairs[]", length=3)
                key = (check.text(baseline, "pairs.baseline"), check.text(candidate, "pairs.c"))
                rollout.pairs[key] = _Pair.restore(pair)
            rollout.paired = _paired(raw.get("paired", []), config)
            rollout.shadow = ShadowJoin.restore(raw["shadow"], ttl_ms=rollout.shadow.ttl_ms,
                                                max_pending=config.shadow_max_pending)  # fmt: skip
            return rollout


def _paired(raw: Any, config: CanaryConfig) -> dict[int, list[tuple[str, str]]]:
    """The stored ``paired`` windows (absent from state stored before labels counted)."""
    paired: dict[int, list[tuple[str, str]]] = {}
    for item in check.listing(raw, "paired", max_length=config.label_windows):
        window, keys = check.listing(item, "paired[]", length=2)
        pairs = check.listing(keys, "paired.pairs", max_length=config.max_versions)
        paired[check.integer(window, "paired.window")] = [
            (check.text(b, "paired.b"), check.text(c, "paired.c"))
            for b, c in (check.listing(k, "paired.pair", length=2) for k in pairs)
        ]
    return paired


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _trigger(event: PredictionEvent, position: tuple[int, int]) -> Trigger:
    return Trigger(event.event_id, position[0], position[1], event.timestamp_ms)
