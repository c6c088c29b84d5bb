"""A drift scenario: what changes in a simulated stream, where, from which event and how much."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

__all__ = ["FEATURE_KINDS", "KINDS", "NUMERIC_KINDS", "PROBABILITY_KINDS", "Scenario"]

NUMERIC_KINDS = frozenset({"abrupt", "gradual", "variance"})
"""Kinds that change the values of one numeric feature."""

PROBABILITY_KINDS = frozenset({"categorical", "missing_rate"})
"""Kinds whose magnitude is a probability, in (0, 1]."""

FEATURE_KINDS = NUMERIC_KINDS | PROBABILITY_KINDS
"""Kinds that act on one named feature."""

KINDS = FEATURE_KINDS | {"anomaly_burst", "none"}

# What each ``name=value`` of ``Scenario.from_text`` is parsed as.
_TEXT_FIELDS: dict[str, Callable[[str], Any]] = {
    "kind": str, "feature": str, "start": int, "duration": int, "end": int, "magnitude": float,
}  # fmt: skip

_DURATION_KINDS = frozenset({"gradual", "anomaly_burst"})
_MAGNITUDE_KINDS = KINDS - {"none"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One drift injected into a simulated prediction stream.

    Event indices count from 0 over the whole stream. A scenario is active from event
    ``start`` up to event ``end`` (exclusive; ``None``: to the end of the stream), and a burst
    also stops after ``duration`` events. ``sigma`` below is the feature's population standard
    deviation and shifts are always upwards.

    - ``abrupt``: the feature's mean moves by ``magnitude * sigma`` at ``start``.
    - ``gradual``: the mean moves linearly from 0 to ``magnitude * sigma`` over ``duration``
      events, then stays there.
    - ``variance``: deviations from the population mean are multiplied by ``magnitude``, so the
      standard deviation is and the mean is not.
    - ``categorical``: with probability ``magnitude`` a value is replaced by a draw from a
      fixed, skewed distribution: the feature's rarest base category (80%) or the never-seen
      category ``"unseen"`` (20%).
    - ``missing_rate``: the value is null with probability ``magnitude``, on top of the base
      missing rate.
    - ``anomaly_burst``: for ``duration`` events every numeric feature is at
      ``mean +/- magnitude * sigma * U(1, 1.5)``, with an independent random sign per value.
    - ``none``: nothing changes (a stationary control).

    Whether ``feature`` exists is checked by ``StreamConfig``, which knows the feature names.

    Parameters
    ----------
    kind
        One of ``KINDS``.
    feature
        The feature changed; required for the per-feature kinds, not allowed for others.
    start
        Index of the first event that drifts.
    duration
        Events over which a gradual drift ramps up, or the length of a burst.
    magnitude
        Size of the drift, positive; a probability (at most 1) for ``categorical`` and
        ``missing_rate``.
    end
        Index of the first event after the drift, or ``None`` for a drift that persists.

    Examples
    --------
    >>> from streams.simulation import Scenario
    >>> Scenario(kind="abrupt", feature="x3", start=5000, magnitude=0.5)
    Scenario(kind='abrupt', feature='x3', start=5000, duration=None, magnitude=0.5, end=None)
    >>> Scenario(kind="abrupt", feature="x3", start=5000, magnitude=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: magnitude must be positive, got -1.0
    """

    kind: str
    feature: str | None = None
    start: int = 0
    duration: int | None = None
    magnitude: float | None = None
    end: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {self.kind!r}")
        self._check_feature()
        _check_index("start", self.start, minimum=0)
        self._check_duration()
        self._check_magnitude()
        if self.end is not None:
            _check_index("end", self.end, minimum=self.start + 1)

    def _check_feature(self) -> None:
        if self.kind in FEATURE_KINDS:
            if not isinstance(self.feature, str) or not self.feature:
                raise ValueError(f"feature is required for kind {self.kind!r}")
        elif self.feature is not None:
            raise ValueError(f"feature is not used by kind {self.kind!r}, got {self.feature!r}")

    def _check_duration(self) -> None:
        if self.kind not in _DURATION_KINDS:
            if self.duration is not None:
                raise ValueError(f"duration is not used by kind {self.kind!r}")
            return
        if self.duration is None:
            raise ValueError(f"duration is required for kind {self.kind!r}")
        _check_index("duration", self.duration, minimum=1)

    def _check_magnitude(self) -> None:
        if self.kind not in _MAGNITUDE_KINDS:
            if self.magnitude is not None:
                raise ValueError(f"magnitude is not used by kind {self.kind!r}")
            return
        value = self.magnitude
        if value is None:
            raise ValueError(f"magnitude is required for kind {self.kind!r}")
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise ValueError(f"magnitude must be a finite number, got {value!r}")
        if value <= 0:
            raise ValueError(f"magnitude must be positive, got {value!r}")
        if self.kind in PROBABILITY_KINDS and value > 1:
            raise ValueError(f"magnitude is a probability for kind {self.kind!r}, got {value!r}")

    @classmethod
    def from_text(cls, text: str) -> Scenario:
        """The scenario a ``--scenario`` flag spells, ``kind=K,feature=F,start=N,...``.

        Raises ``ValueError`` naming the part that is wrong.

        >>> Scenario.from_text("kind=abrupt,feature=x3,start=5000,magnitude=0.5").magnitude
        0.5
        >>> Scenario.from_text("garbage")
        Traceback (most recent call last):
        ...
        ValueError: scenario 'garbage': 'garbage' is not name=value (names: duration, end, \
feature, kind, magnitude, start)
        """
        given: dict[str, Any] = {}
        for part in text.split(","):
            name, equals, value = part.strip().partition("=")
            if not equals or name not in _TEXT_FIELDS:
                raise ValueError(
                    f"scenario {text!r}: {part!r} is not name=value "
                    f"(names: {', '.join(sorted(_TEXT_FIELDS))})"
                )
            try:
                given[name] = _TEXT_FIELDS[name](value)
            except ValueError:
                raise ValueError(f"scenario {text!r}: {name}={value!r} is not a number") from None
        if "kind" not in given:
            raise ValueError(f"scenario {text!r}: kind=... is missing")
        try:
            return cls(**given)
        except ValueError as exc:
            raise ValueError(f"scenario {text!r}: {exc}") from None

    def active_range(self) -> tuple[int, float]:
        """First event index and the index after the last one where the drift acts."""
        stop = math.inf if self.end is None else self.end
        if self.kind == "anomaly_burst":
            assert self.duration is not None  # required of a burst (__post_init__)
            stop = min(stop, self.start + self.duration)
        return self.start, stop


def _check_index(field: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{field} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{field} must be at least {minimum}, got {value}")
