"""One alert per episode: fire on a window over the threshold, resolve after calm windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from streams.core import plain_data as check

__all__ = ["AlertRule", "RuleState", "Transition"]

Transition = Literal["fire", "resolve"] | None


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Hysteresis and cooldown, in windows.

    Parameters
    ----------
    resolve_ratio
        A firing alert counts a window as calm when its value is below
        ``resolve_ratio * threshold``; the gap keeps a value hovering at the threshold from
        flapping.
    resolve_windows
        Calm windows in a row that resolve an episode.
    cooldown_windows
        Windows after a resolution during which the same detector cannot fire again.
    """

    resolve_ratio: float = 0.5
    resolve_windows: int = 2
    cooldown_windows: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.resolve_ratio <= 1:
            raise ValueError(f"resolve_ratio must be in (0, 1], got {self.resolve_ratio}")
        if self.resolve_windows < 1 or self.cooldown_windows < 0:
            raise ValueError("resolve_windows must be >= 1 and cooldown_windows >= 0")


class RuleState:
    """Where one (feature, detector) stands: quiet, firing since a window, or cooling down."""

    __slots__ = ("calm", "cooldown", "firing_since")
    SNAPSHOT_VERSION: ClassVar[None] = None  # a part of its monitor's state

    def __init__(self) -> None:
        self.firing_since: int | None = None
        self.calm = 0
        self.cooldown = 0

    def judge(self, rule: AlertRule, window: int, value: float, threshold: float) -> Transition:
        """Take one window's verdict; say whether an alert fires or resolves now."""
        if self.firing_since is None:
            if self.cooldown > 0:
                self.cooldown -= 1
                return None
            if value > threshold:
                self.firing_since, self.calm = window, 0
                return "fire"
            return None
        self.calm = self.calm + 1 if value < rule.resolve_ratio * threshold else 0
        if self.calm >= rule.resolve_windows:
            self.firing_since, self.cooldown = None, rule.cooldown_windows
            return "resolve"
        return None

    def snapshot(self) -> dict[str, Any]:
        return {"firing_since": self.firing_since, "calm": self.calm, "cooldown": self.cooldown}

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        """A rule state from ``snapshot``; ``InvalidState`` if it is malformed."""
        raw = check.mapping(snapshot, "rule", ("firing_since", "calm", "cooldown"))
        state = cls()
        state.firing_since = check.optional(check.integer, raw["firing_since"], "rule.firing_since")
        state.calm = check.integer(raw["calm"], "rule.calm")
        state.cooldown = check.integer(raw["cooldown"], "rule.cooldown")
        return state
