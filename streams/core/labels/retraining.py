"""When persisting performance trouble becomes a retraining request.

A ``performance`` or ``concept_drift`` episode that persists ``after`` evaluations yields one
``RetrainRequest`` with the firing alerts as evidence, then none for ``cooldown``
evaluations. The monitor tells the policy of every firing and resolving alert; the policy
keeps what it needs as plain data (``snapshot`` / ``restore``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from streams.core import plain_data as check
from streams.core.alerts.alert import Alert, Window
from streams.core.alerts.alert_rule import RuleState
from streams.core.alerts.retrain_request import RetrainRequest
from streams.core.labels.performance_verdict import PerformanceVerdict

__all__ = ["RetrainingPolicy"]

# Alert types whose persistence asks for retraining (fairness asks a human instead).
_EVIDENCE_TYPES = ("performance", "concept_drift")


class RetrainingPolicy:
    """The retraining requests of one model version.

    >>> policy = RetrainingPolicy("churn", "v1", after=3, cooldown=20)
    >>> policy.take(), policy.snapshot()
    ([], {'evidence': {}, 'last_request': None})
    """

    # Its keys are stored among the performance monitor's, versioned by it.
    SNAPSHOT_VERSION: ClassVar[None] = None

    def __init__(self, model_id: str, model_version: str, *, after: int, cooldown: int) -> None:
        self.model_id = model_id
        self.model_version = model_version
        self.after = after
        self.cooldown = cooldown
        self.evidence: dict[str, dict[str, Any]] = {}
        self.last_request: int | None = None
        self._requests: list[RetrainRequest] = []

    def noted(self, verdict: PerformanceVerdict, alert: Alert) -> None:
        """Keep a firing alert as evidence; forget its rule's once it resolves."""
        if alert.status == "resolved":
            self.evidence.pop(verdict.rule, None)
        elif verdict.alert_type in _EVIDENCE_TYPES:
            self.evidence[verdict.rule] = {
                "alert_id": alert.alert_id, "episode_id": alert.episode_id,
                "type": verdict.alert_type, "statistic": verdict.statistic,
                "value": verdict.value, "threshold": verdict.threshold,
            }  # fmt: skip

    def consider(
        self,
        index: int,
        rules: Mapping[str, RuleState],
        metrics: dict[str, float],
        reference: dict[str, float],
        window: Window,
    ) -> None:
        """After evaluation ``index``: request retraining if an episode has persisted long
        enough and the last request has cooled down."""
        persistent = [
            evidence for rule, evidence in self.evidence.items()
            if (since := rules[rule].firing_since) is not None and index - since + 1 >= self.after
        ]  # fmt: skip
        cooled = self.last_request is None or index - self.last_request >= self.cooldown
        if not persistent or not cooled:
            return
        self.last_request = index
        request = RetrainRequest(self.model_id, self.model_version, index, tuple(persistent),
                                 metrics, reference, window)  # fmt: skip
        self._requests.append(request)

    def take(self) -> list[RetrainRequest]:
        """The requests made since the last call."""
        requests, self._requests = self._requests, []
        return requests

    def snapshot(self) -> dict[str, Any]:
        return {"evidence": self.evidence, "last_request": self.last_request}

    @classmethod
    def restore(
        cls, snapshot: Any, model_id: str, model_version: str, *, after: int, cooldown: int
    ) -> Self:
        """A policy continuing from ``snapshot()``'s keys in ``snapshot``; ``InvalidState``
        for anything malformed."""
        raw = check.mapping(snapshot, "retraining", ("evidence", "last_request"))
        policy = cls(model_id, model_version, after=after, cooldown=cooldown)
        evidence = check.mapping(raw["evidence"], "evidence")
        policy.evidence = {check.text(k, "evidence"): dict(check.mapping(v, "evidence"))
                           for k, v in evidence.items()}  # fmt: skip
        policy.last_request = check.optional(check.integer, raw["last_request"], "last_request")
        return policy
