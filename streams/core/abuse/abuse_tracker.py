"""Probing and abuse of one model version, by source: windows of events judged for patterns.

With a spec's ``source_attribute`` (e.g. ``client_id``), each event's source is hashed
(``PiiPolicy``: keyed HMAC, never kept in clear) and counted by Space-Saving in
``counters`` counters. Every ``window_events`` events the tracked sources are judged
(``source_verdict``) for three patterns the issue names:

- ``near_duplicates``: events sharing all but one (or two) quantised features with one of
  the source's ``memory`` previous events (``fingerprint``);
- ``threshold_probing``: scores within ``margin`` of the decision threshold (classifiers);
- ``anomalous_share``: events the reference's Mahalanobis scorer calls anomalous (else,
  without a scorer, events with a numeric feature outside the reference range).

The false-alarm budget: ``alpha`` is the chance of any false ``adversarial`` alert of the
model version per ``budget_events`` events, spread over its windows and, in each window,
over ``counters`` sources times three patterns (``AlertBudget``: Bonferroni, with later
blocks of windows given shrinking shares so the total holds on a stream of any length;
``AlertBudget`` spends half of ``alpha`` on these looks, so the budget holds with room). The
others' rate is estimated from the window itself (thousands of events): the ``min_ratio``
and ``min_hits`` floors keep its error from turning into alarms.
A source and pattern over the budget opens an episode (one ``firing`` alert); a later
window that no longer finds it closes the episode (``resolved``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.abuse.fingerprint import Fingerprint
from streams.core.abuse.source_verdict import PATTERNS, Finding, Totals, judge_source
from streams.core.alerts.alert import Alert, Trigger, Window
from streams.core.contract.columns import Columns
from streams.core.contract.event import PredictionEvent
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import ModelSpec
from streams.core.drift.detector_set import SCORE
from streams.core.drift.profile import ReferenceProfile
from streams.core.labels.alert_budget import AlertBudget
from streams.core.online.space_saving import SpaceSaving

__all__ = ["AbuseConfig", "AbuseTracker"]

_UNSEEN = "unseen"
#: The largest strength an alert reports (a bound of 0 would be infinite).
_MAX_STRENGTH = 999.0


@dataclass(frozen=True, slots=True)
class AbuseConfig:
    """How sources are tracked and judged (defaults suit ~1,000 sources per model)."""

    window_events: int = 10_000
    counters: int = 128
    memory: int = 8
    differing: int = 1
    decision_threshold: float = 0.5
    margin: float = 0.05
    alpha: float = 0.01
    budget_events: int = 1_000_000
    min_hits: int = 10
    min_ratio: float = 3.0

    def __post_init__(self) -> None:
        if min(self.window_events, self.counters, self.memory, self.min_hits) < 1:
            raise ValueError("window_events, counters, memory and min_hits must be positive")
        if self.differing not in (1, 2):
            raise ValueError("differing must be 1 or 2")
        if not 0 < self.alpha < 1 or not 0 < self.margin < 1 or self.min_ratio < 1:
            raise ValueError("alpha and margin must be in (0, 1), min_ratio at least 1")

    @property
    def budget(self) -> AlertBudget:
        return AlertBudget(
            alpha=self.alpha, budget_labels=self.budget_events,
            evaluate_every=self.window_events, tests_per_look=self.counters * len(PATTERNS),
        )  # fmt: skip


class AbuseTracker:
    """Heavy hitters of one model version's sources and the patterns they show.

    Built only when the spec names a ``source_attribute`` and ``pii`` can hash (a key is
    set): a source is never kept or emitted in clear.
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(
        self,
        spec: ModelSpec,
        model_version: str,
        profile: ReferenceProfile,
        config: AbuseConfig,
        pii: PiiPolicy,
        *,
        numeric: Sequence[str],
        categorical: Sequence[str],
    ) -> None:
        if spec.source_attribute is None or not pii.hashes:
            raise ValueError("an abuse tracker needs a source attribute and a PII key")
        self.spec, self.model_version, self.config, self.pii = spec, model_version, config, pii
        self.attribute: str = spec.source_attribute
        self.profile = profile
        self.numeric, self.categorical = tuple(numeric), tuple(categorical)
        self.fingerprint = Fingerprint.from_profile(profile, numeric, categorical,
                                                    differing=config.differing)  # fmt: skip
        self.heavy = self._counters()
        self.windows_closed = 0
        self.window_count = 0
        self.window_start_ms = 0
        #: open episodes: (source, pattern) -> the window it began in
        self.episodes: dict[tuple[str, str], int] = {}

    @classmethod
    def start(
        cls,
        spec: ModelSpec,
        model_version: str,
        profile: ReferenceProfile,
        config: AbuseConfig,
        pii: PiiPolicy,
        *,
        numeric: Sequence[str],
        categorical: Sequence[str],
    ) -> Self | None:
        """A tracker for the model version, or None when its spec names no source attribute
        or sources cannot be hashed (no PII key)."""
        if spec.source_attribute is None or not pii.hashes:
            return None
        return cls(spec, model_version, profile, config, pii, numeric=numeric,
                   categorical=categorical)  # fmt: skip

    def restored(self, snapshot: Any) -> Self:
        """A tracker built as this one, in the state ``snapshot`` holds."""
        return self.restore(snapshot, self.spec, self.model_version, self.profile, self.config,
                            self.pii, numeric=self.numeric,
                            categorical=self.categorical)  # fmt: skip

    def _counters(self) -> SpaceSaving:
        masks = len(self.fingerprint.masks)
        return SpaceSaving(
            self.config.counters, patterns=len(PATTERNS) - 1, masks=masks, memory=self.config.memory
        )

    def add(
        self,
        chunk: Columns,
        events: Sequence[PredictionEvent],
        positions: Sequence[tuple[int, int]],
    ) -> list[Alert]:
        """Count a chunk of events (the monitor's columns of them); the alerts of the windows
        it closed."""
        sources = self._sources(events)
        keys = self.fingerprint.keys(chunk).tolist()
        near = self._near_threshold(chunk).tolist()
        odd = self._anomalous(chunk).tolist()
        alerts: list[Alert] = []
        window = self.config.window_events
        for i, source in enumerate(sources):
            if source is None:
                continue
            if self.window_count == 0:
                self.window_start_ms = events[i].timestamp_ms
            entry = self.heavy.offer(source)
            entry.hits[0] += near[i]
            entry.hits[1] += odd[i]
            entry.compare(keys[i])
            self.window_count += 1
            if self.window_count == window:
                event = events[i]
                trigger = Trigger(event.event_id, *positions[i], event.timestamp_ms)
                alerts.extend(self._close_window(trigger))
        return alerts

    def _sources(self, events: Sequence[PredictionEvent]) -> list[str | None]:
        """Each event's hashed source (None: it names none); each value hashed once."""
        attribute, redact = self.attribute, self.pii.redact
        hashed: dict[Any, str | None] = {None: None}
        out = []
        for event in events:
            value = None if event.attributes is None else event.attributes.get(attribute)
            if type(value) is not str:  # 1 == True as keys: only texts are remembered
                out.append(None if value is None else redact(value))
                continue
            source = hashed.get(value, _UNSEEN)
            if source is _UNSEEN:
                source = hashed[value] = redact(value)
            out.append(source)
        return out

    def _near_threshold(self, chunk: Columns) -> np.ndarray:
        if self.spec.task != "classification" or SCORE not in chunk.numeric_names:
            return np.zeros(len(chunk), dtype=bool)
        score = chunk.numeric[:, chunk.numeric_names.index(SCORE)]
        with np.errstate(invalid="ignore"):
            near: np.ndarray = np.abs(score - self.config.decision_threshold) <= self.config.margin
        return near

    def _anomalous(self, chunk: Columns) -> np.ndarray:
        columns = [chunk.numeric_names.index(name) for name in self.numeric]
        numeric = chunk.numeric[:, columns]
        scorer = self.profile.anomaly
        if scorer is not None and scorer.names == self.numeric:
            flagged: np.ndarray = scorer.scores(numeric) > scorer.threshold
            return flagged
        low = np.array([self.profile.numeric[n].minimum for n in self.numeric])
        high = np.array([self.profile.numeric[n].maximum for n in self.numeric])
        with np.errstate(invalid="ignore"):
            outside = (numeric < low) | (numeric > high)
        return np.asarray(outside.any(axis=1))

    def _close_window(self, trigger: Trigger) -> list[Alert]:
        entries = list(self.heavy.tracked.values())
        totals = Totals.of(entries)
        bar = -math.log10(self.config.budget.alpha_at(self.windows_closed))
        found: dict[tuple[str, str], tuple[Finding, list[int]]] = {}
        for source, entry in self.heavy.top():
            for finding in judge_source(entry, totals, min_hits=self.config.min_hits,
                                        min_ratio=self.config.min_ratio):  # fmt: skip
                if finding.strength >= bar:
                    found[source, finding.pattern] = (finding, entry.matched)
        alerts = [self._alert("firing", key, *found[key], bar, self.windows_closed, trigger)
                  for key in found if key not in self.episodes]  # fmt: skip
        for key in [key for key in self.episodes if key not in found]:
            alerts.append(
                self._alert("resolved", key, None, [], bar, self.episodes.pop(key), trigger)
            )
        for key in found:
            self.episodes.setdefault(key, self.windows_closed)
        self.heavy.clear()
        self.windows_closed += 1
        self.window_count = 0
        return alerts

    def _alert(
        self,
        status: Literal["firing", "resolved"],
        key: tuple[str, str],
        finding: Finding | None,
        matched: list[int],
        bar: float,
        since: int,
        trigger: Trigger,
    ) -> Alert:
        source, pattern = key
        strength = 0.0 if finding is None else min(finding.strength, _MAX_STRENGTH)
        evidence = {} if finding is None else _evidence(finding)
        if pattern == PATTERNS[0] and any(matched):
            evidence["features"] = list(self.fingerprint.features_of(matched.index(max(matched))))
        window = Window(self.window_start_ms, trigger.timestamp_ms, self.window_count)
        severity: Literal["info", "warning", "critical"] = (
            "info" if status == "resolved" else "critical" if strength > 2 * bar else "warning"
        )
        return Alert(
            type="adversarial", status=status, severity=severity,
            model_id=self.spec.model_id, model_version=self.model_version, feature=None,
            detector="space_saving", statistic_name=f"{pattern}_log10_p", value=strength,
            threshold=bar, window=window, trigger=trigger,
            episode=f"adversarial/{pattern}/{source[5:21]}/w{since}",
            message=f"source {source[:13]}...: {pattern} "
            + (f"{evidence['hits']} of {evidence['trials']} where "
               f"{evidence['expected']:.1f} expected" if finding else "no longer found"),
            adversarial={"source": source, "pattern": pattern, "evidence": evidence},
        )  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        """Plain data: the open window's counters and the open episodes (hashed sources)."""
        return {
            "windows_closed": self.windows_closed,
            "window_count": self.window_count,
            "window_start_ms": self.window_start_ms,
            "heavy": self.heavy.snapshot(),
            "episodes": [[source, pattern, since] for (source, pattern), since
                         in self.episodes.items()],
        }  # fmt: skip

    @classmethod
    def restore(
        cls,
        snapshot: Any,
        spec: ModelSpec,
        model_version: str,
        profile: ReferenceProfile,
        config: AbuseConfig,
        pii: PiiPolicy,
        *,
        numeric: Sequence[str],
        categorical: Sequence[str],
    ) -> Self:
        """The tracker as it was; raises ``InvalidState`` for malformed data."""
        fields = ("windows_closed", "window_count", "window_start_ms", "heavy", "episodes")
        raw = check.mapping(snapshot, "abuse", fields)
        out = cls(spec, model_version, profile, config, pii, numeric=numeric,
                  categorical=categorical)  # fmt: skip
        out.windows_closed = check.integer(raw["windows_closed"], "abuse.windows_closed")
        out.window_count = check.integer(raw["window_count"], "abuse.window_count",
                                         high=config.window_events - 1)  # fmt: skip
        out.window_start_ms = check.integer(raw["window_start_ms"], "abuse.window_start_ms")
        heavy = out.heavy
        out.heavy = SpaceSaving.restore(raw["heavy"], heavy.capacity, patterns=heavy.patterns,
                                        masks=heavy.masks, memory=heavy.memory)  # fmt: skip
        limit = config.counters * len(PATTERNS)
        for item in check.listing(raw["episodes"], "abuse.episodes", max_length=limit):
            source, pattern, since = check.listing(item, "abuse.episodes[]", length=3)
            if pattern not in PATTERNS:
                raise check.InvalidState("abuse.episodes: unknown pattern")
            key = (check.text(source, "abuse.episodes.source", max_length=256), pattern)
            out.episodes[key] = check.integer(since, "abuse.episodes.since")
        return out


def _evidence(finding: Finding) -> dict[str, Any]:
    """An alert's evidence: the source's hits and trials against the population's rate."""
    return {
        "hits": finding.hits,
        "trials": finding.trials,
        "expected": round(finding.expected, 3),
        "population_rate": round(finding.population_rate, 6),
        "log10_p": round(min(finding.strength, _MAX_STRENGTH), 3),
    }
