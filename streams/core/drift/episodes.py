"""The alert episodes of one model version's monitor: a rule state per (column kind, column,
rule), read by the detectors' verdicts and the open window, moved by closed windows."""

from __future__ import annotations

from typing import Any, Self

from streams.core import plain_data as check
from streams.core.alerts.alert_rule import AlertRule, RuleState, Transition

__all__ = ["Episodes", "RuleKey"]

#: (column kind, column name or None for the whole model, rule): one alert episode's key.
RuleKey = tuple[str, str | None, str]


class Episodes:
    """Where each rule of each column stands: quiet, firing since a window, cooling down."""

    __slots__ = ("_states",)

    def __init__(self) -> None:
        self._states: dict[RuleKey, RuleState] = {}

    def firing_since(self, kind: str, name: str | None, rule: str) -> int | None:
        """The window the rule's open episode started; None when it is not firing."""
        state = self._states.get((kind, name, rule))
        return None if state is None else state.firing_since

    def firing(self, kind: str, name: str | None, rule: str) -> bool:
        """Whether the rule's episode is open (the detectors' ``verdicts`` ask this)."""
        return self.firing_since(kind, name, rule) is not None

    def judge(
        self, rule: AlertRule, key: RuleKey, index: int, value: float, threshold: float
    ) -> tuple[Transition, int | None]:
        """Take window ``index``'s verdict for ``key``: the transition, and the window its
        episode started (``index`` when it fires now)."""
        state = self._states.setdefault(key, RuleState())
        started = state.firing_since
        transition = state.judge(rule, index, value, threshold)
        return transition, index if transition == "fire" else started

    def snapshot(self) -> list[list[Any]]:
        return [[*key, state.snapshot()] for key, state in self._states.items()]

    @classmethod
    def restore(cls, snapshot: Any) -> Self:
        """Episodes from ``snapshot``; ``InvalidState`` if it is malformed."""
        episodes = cls()
        for item in check.listing(snapshot, "rules", max_length=100_000):
            kind, name, rule, state = check.listing(item, "rules[]", length=4)
            key = (check.text(kind, "rules.kind"), check.optional(check.text, name, "rules.name"),
                   check.text(rule, "rules.detector"))  # fmt: skip
            episodes._states[key] = RuleState.restore(state)
        return episodes
