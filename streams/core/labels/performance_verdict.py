"""One judgement of a model version's labelled window, before its alert rule decides."""

from __future__ import annotations

from dataclasses import dataclass

from streams.core.alerts.alert import AlertType

__all__ = ["PerformanceVerdict"]


@dataclass(frozen=True, slots=True)
class PerformanceVerdict:
    """A statistic of the label side against its threshold (the drift side's ``Verdict``
    plus what the label side needs: the alert type, the rule it belongs to and, for
    fairness, the attribute in ``feature``).

    ``rule`` names the alert rule's state (``accuracy``, ``concept``,
    ``fairness:<attribute>:<metric>``): one episode at a time per rule.
    """

    alert_type: AlertType
    rule: str
    feature: str | None
    statistic: str
    value: float
    threshold: float
    name: str | None = None

    @property
    def detector(self) -> str:
        """The alert's ``detector`` field: ``name`` if given (a sequential test, e.g.
        ``auc_cusum``), else the label side names it after the alert type."""
        return self.name or self.alert_type
