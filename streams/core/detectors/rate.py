"""What the rate detectors share: counting a window's hits, judged against an expected rate.

Missing values, values outside the reference's range and anomalous events are each a share
of a window's values; the window fires at ``z`` standard errors above the rate expected of
it (``RateConfig``). Each detector says only what a hit is and what rate to expect.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from streams.core import plain_data as check
from streams.core.detectors.base import RateConfig, Verdict, Watched, built
from streams.core.drift.statistics import rate_threshold

__all__ = ["RateDetector"]


class RateDetector:
    """Hits and values seen over the window; ``_KEYS`` names the two in the snapshot.

    A subclass gives ``_count`` (a batch's hits and values) and ``_expected_rate``.
    """

    # The rest of what a detector declares (``base.Detector``) each subclass gives.
    name: ClassVar[str]
    statistic: ClassVar[str]
    ends_episodes: ClassVar[bool] = True
    SNAPSHOT_VERSION: ClassVar[None] = None
    _KEYS: ClassVar[tuple[str, str]]

    def __init__(self, config: RateConfig) -> None:
        self.config = config
        self._hits = self._seen = 0

    @classmethod
    def watching(cls, config: Any, watched: Watched) -> Self | None:
        raise NotImplementedError

    def _count(self, values: Any) -> tuple[int, int]:
        """The hits among ``values``, and how many of them count."""
        raise NotImplementedError

    def _expected_rate(self) -> float:
        raise NotImplementedError

    def update(self, values: Any) -> None:
        hits, seen = self._count(values)
        self._hits += hits
        self._seen += seen

    def verdict(self) -> Verdict:
        n, config = self._seen, self.config
        threshold = rate_threshold(
            self._expected_rate(), n, z=config.z, min_increase=config.min_increase
        )
        return Verdict(self.name, self.statistic, self._hits / max(n, 1), threshold)

    def end_window(self) -> None:
        self._hits = self._seen = 0

    def snapshot(self) -> dict[str, Any]:
        hits, seen = self._KEYS
        return {hits: self._hits, seen: self._seen}

    @classmethod
    def restore(cls, snapshot: Any, config: Any, watched: Watched) -> Self:
        hits_key, seen_key = cls._KEYS
        raw = check.mapping(snapshot, cls.name, cls._KEYS)
        seen = check.integer(raw[seen_key], f"{cls.name}.{seen_key}")
        hits = check.integer(raw[hits_key], f"{cls.name}.{hits_key}", high=seen)
        detector = built(cls.watching, config, watched)
        detector._hits, detector._seen = hits, seen
        return detector
