"""A rule's transition (fire or resolve) as an alert: the shape the drift side's windows and
the label side's evaluations share (status, severity, statistic and message)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from streams.core.alerts.alert import Alert, AlertType, Explanation, Trigger, Window

__all__ = ["transition_alert"]


class Judged(Protocol):
    """A verdict: the drift side's ``Verdict`` or the label side's ``PerformanceVerdict``."""

    @property
    def detector(self) -> str: ...
    @property
    def statistic(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def threshold(self) -> float: ...


def transition_alert(
    fired: bool,
    verdict: Judged,
    *,
    alert_type: AlertType,
    model: tuple[str, str],
    feature: str | None,
    window: Window,
    trigger: Trigger,
    episode: str,
    severity: Literal["warning", "critical"],
    sample: tuple[dict[str, Any], ...],
    counted: str,
    subject: str = "",
    explanation: Explanation | None = None,
) -> Alert:
    """The alert of a verdict that ``fired`` (else resolved); a resolution is ``info``.

    ``counted`` names what the window counts (``events``); ``subject`` opens the message.
    """
    relation = ">" if fired else "back under"
    return Alert(
        type=alert_type,
        status="firing" if fired else "resolved",
        severity=severity if fired else "info",
        model_id=model[0],
        model_version=model[1],
        feature=feature,
        detector=verdict.detector,
        statistic_name=verdict.statistic,
        value=verdict.value,
        threshold=verdict.threshold,
        window=window,
        trigger=trigger,
        episode=episode,
        sample=sample,
        explanation=explanation,
        message=f"{subject}{verdict.statistic} {verdict.value:.4f} {relation} "
        f"{verdict.threshold:.4f} over {window.count} {counted}",
    )
