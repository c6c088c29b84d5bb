"""Every detector of one model version, by column: built from its reference and settings,
fed each chunk, judged when a window closes."""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any, ClassVar, Self

import numpy as np

from streams.core import plain_data as check
from streams.core.contract.columns import Columns
from streams.core.contract.spec import ModelSpec
from streams.core.detectors import (
    BlockMeans,
    Detector,
    DetectorConfigs,
    Verdict,
    Watched,
    build,
)
from streams.core.drift.anomaly_contributions import AnomalyContributions
from streams.core.drift.profile import CategoricalProfile, NumericProfile, ReferenceProfile

__all__ = ["PREDICTION", "SCORE", "DetectorSet", "Judged", "column_kind"]

# Pseudo-feature names of the prediction columns; alerts on them are "prediction_drift".
SCORE, PREDICTION = "score", "prediction"
#: (column kind, column name or None for the whole model, detector, its verdict)
Judged = tuple[str, str | None, Detector, Verdict]


class DetectorSet:
    """The enabled detectors of each column of ``profile`` and of the whole model.

    ``configs`` are the worker's settings; the spec's ``detectors`` go over them for the
    whole model, a feature's own over those for that feature. Its state is a part of the
    monitor's (``SNAPSHOT_VERSION`` None: versioned by the monitor's).
    """

    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, profile: ReferenceProfile, spec: ModelSpec, configs: DetectorConfigs):
        scorer = profile.anomaly
        self.scorer = scorer
        self.blocks = (
            None if scorer is None else BlockMeans(scorer.names, scorer.mean, scorer.scale)
        )
        #: The anomalous events' distance per feature, explaining an ``anomaly`` alert.
        self.contributions = None if scorer is None else AnomalyContributions(scorer)
        reference = {} if scorer is None else {
            name: (float(m), float(s))
            for name, m, s in zip(scorer.names, scorer.mean, scorer.scale, strict=True)
        }  # fmt: skip
        configs = configs.overridden(spec.detectors)
        self.columns: dict[tuple[str, str], list[Detector]] = {}
        self._watched: dict[tuple[str, str | None], Watched] = {}
        columns: list[tuple[str, NumericProfile | CategoricalProfile]] = [
            *profile.numeric.items(),
            *profile.categorical.items(),
        ]
        for name, column in columns:
            kind, feature = column_kind(name), spec.features.get(name)
            own = (
                configs.overridden(feature.detectors) if kind == "feature" and feature else configs
            )
            numeric = isinstance(column, NumericProfile)
            target: Any = f"{'numeric' if numeric else 'categorical'}_{kind}"
            mean, scale = reference.get(name, (None, None)) if kind == "feature" else (None, None)
            watched = self._watched[kind, name] = Watched(target, name, column, mean, scale)
            self.columns[kind, name] = build(target, own, watched)
        watched = self._watched["model", None] = Watched("model", None, anomaly=scorer)
        self.model = build("model", configs, watched)

    def add(self, chunk: Columns) -> int:
        """Feed a chunk to every detector; return its anomalous events."""
        for j, name in enumerate(chunk.numeric_names):
            self._feed(name, "values", chunk.numeric[:, j])
        for name, values in chunk.categorical.items():
            self._feed(name, "values", values)
        if self.scorer is None or self.blocks is None:
            return 0
        rows = _select(chunk, self.scorer.names)
        for name, means in self.blocks.add(rows).items():
            self._feed(name, "block_means", np.array(means))
        flags = self.scorer.scores(rows) > self.scorer.threshold
        if self.contributions is not None:
            self.contributions.add(rows, flags)
        for detector in self.model:
            detector.update(flags)
        return int(np.count_nonzero(flags))

    def _feed(self, name: str, reads: str, values: Any) -> None:
        for detector in self.columns.get((column_kind(name), name), ()):
            if detector.reads == reads:
                detector.update(values)

    def verdicts(self, firing: Callable[[str, str | None, str], bool]) -> list[Judged]:
        """Each column's verdict per rule, then the whole model's, as the window closes.

        Of a rule's detectors the one furthest over its threshold speaks; while the rule's
        episode fires (``firing(kind, name, rule)``), only those that may end it are heard:
        ADWIN may start a drift episode, PSI against the reference ends it (ADWIN's estimate
        forgets a past shift only slowly once it is over).
        """
        judged: list[Judged] = []
        for (kind, name), detectors in self.columns.items():
            rules: dict[str, list[tuple[Detector, Verdict]]] = {}
            for detector in detectors:
                rules.setdefault(detector.rule, []).append((detector, detector.verdict()))
            for rule, heard in rules.items():
                if len(heard) > 1 and firing(kind, name, rule):
                    heard = [h for h in heard if h[0].ends_episodes] or heard
                judged.append((kind, name, *max(heard, key=lambda h: h[1].value / h[1].threshold)))
        judged += [("model", None, d, d.verdict()) for d in self.model]
        return judged

    def end_window(self) -> None:
        if self.contributions is not None:
            self.contributions.end_window()
        for detector in chain(self.model, *self.columns.values()):
            detector.end_window()

    def snapshot(self) -> dict[str, Any]:
        return {
            "detectors": {
                f"{kind}:{name}": {d.name: d.snapshot() for d in detectors}
                for (kind, name), detectors in self.columns.items()
            },
            "model_detectors": {d.name: d.snapshot() for d in self.model},
            "blocks": None if self.blocks is None else self.blocks.snapshot(),
            **({} if self.contributions is None else
               {"contributions": self.contributions.snapshot()}),
        }  # fmt: skip

    @classmethod
    def restore(
        cls, snapshot: Any, profile: ReferenceProfile, spec: ModelSpec, configs: DetectorConfigs
    ) -> Self:
        """Continue from ``snapshot()``'s fields of ``snapshot`` (the monitor's); a detector
        it has nothing of (switched on since) starts afresh; ``InvalidState`` for anything
        malformed."""
        detectors = cls(profile, spec, configs)
        stored = check.mapping(snapshot["detectors"], "detectors")
        for (kind, name), built in detectors.columns.items():
            detectors.columns[kind, name] = _restore_each(
                built, stored[f"{kind}:{name}"], f"detectors.{kind}:{name}",
                detectors._watched[kind, name],
            )  # fmt: skip
        watched = detectors._watched["model", None]
        detectors.model = _restore_each(
            detectors.model, snapshot["model_detectors"], "model_detectors", watched
        )
        blocks = detectors.blocks
        if blocks is not None and snapshot.get("blocks") is not None:
            detectors.blocks = BlockMeans.restore(
                snapshot["blocks"], blocks.names, blocks.mean, blocks.scale,
                block_events=blocks.block_events,
            )  # fmt: skip
        if detectors.scorer is not None and snapshot.get("contributions") is not None:
            detectors.contributions = AnomalyContributions.restore(
                snapshot["contributions"], detectors.scorer
            )
        return detectors


def column_kind(name: str) -> str:
    return "prediction" if name in (SCORE, PREDICTION) else "feature"


def _restore_each(
    detectors: list[Detector], raw: Any, where: str, watched: Watched
) -> list[Detector]:
    """``detectors`` continuing from their state in ``raw``; one it has none of stays fresh."""
    stored = check.mapping(raw, where)
    return [
        type(d).restore(stored[d.name], d.config, watched) if d.name in stored else d
        for d in detectors
    ]


def _select(chunk: Columns, names: tuple[str, ...]) -> np.ndarray:
    # The reference may order (or even name) its features otherwise than this spec does;
    # a feature the batch lacks counts as missing.
    where = {name: j for j, name in enumerate(chunk.numeric_names)}
    missing = np.full(len(chunk), np.nan)
    return np.column_stack(
        [chunk.numeric[:, where[n]] if n in where else missing for n in names]
    ).reshape(len(chunk), len(names))
