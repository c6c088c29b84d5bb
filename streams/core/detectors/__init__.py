"""The detectors: one protocol (``base.Detector``), one module each, registered here.

Each detector watches one column of a model version (a numeric or categorical input, or
the model's score or prediction) or the whole model, judges it when a window closes, and
keeps its state as plain data. ``REGISTRY`` is the one list of them: adding a detector is
its module plus one line here; its config is then reachable by name from
``DRIFTLINE_DETECTORS`` and from a model spec's ``detectors``.
"""

from __future__ import annotations

import json

from streams.core.detectors.adwin_mean_shift import AdwinMeanShift
from streams.core.detectors.anomaly_rate import AnomalyRate
from streams.core.detectors.base import Detector, DetectorConfig, Target, Verdict, Watched
from streams.core.detectors.block_means import BlockMeans
from streams.core.detectors.configs import DetectorConfigs
from streams.core.detectors.cusum import Cusum
from streams.core.detectors.missing_rate import MissingRate
from streams.core.detectors.out_of_range import OutOfRange
from streams.core.detectors.psi import Psi
from streams.core.detectors.type_change import TypeChange
from streams.core.detectors.unseen_categories import UnseenCategories

__all__ = [
    "REGISTRY",
    "BlockMeans",
    "Detector",
    "DetectorConfig",
    "DetectorConfigs",
    "Verdict",
    "Watched",
    "build",
    "configs_from_json",
    "default_configs",
]

#: Every detector, in the order their verdicts are judged on a column.
REGISTRY: tuple[type[Detector], ...] = (
    Psi,
    MissingRate,
    OutOfRange,
    AdwinMeanShift,
    AnomalyRate,
    Cusum,
    UnseenCategories,
    TypeChange,
)


def default_configs() -> DetectorConfigs:
    """Each registered detector's config at its defaults."""
    return DetectorConfigs({detector.name: detector.Config() for detector in REGISTRY})


def configs_from_json(text: str) -> DetectorConfigs:
    """The defaults overridden by ``text``, a JSON object such as
    ``{"psi": {"threshold": 0.15}, "cusum": {"enabled": true}}`` (empty: the defaults);
    ``ValueError`` naming what is wrong."""
    if not text.strip():
        return default_configs()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    return default_configs().overridden(raw)


def build(target: Target, configs: DetectorConfigs, watched: Watched) -> list[Detector]:
    """The enabled detectors of ``target``, built against ``watched``, in registry order."""
    built = []
    for kind in REGISTRY:
        config = configs[kind.name]
        if target in kind.watches and config.enabled:
            detector = kind.watching(config, watched)
            if detector is not None:
                built.append(detector)
    return built
