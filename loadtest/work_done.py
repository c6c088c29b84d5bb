"""Proof that a benchmark's timed work happened: every harness checks it before it reports.

A rate is only worth printing if the events it counts were accepted and judged. A run where
every event was dead-lettered, or every monitor stayed in reference learning, is fast and
raises no false alarm: exactly the numbers a regression would produce. So each harness states
what its workload must have made the monitors do (a ``Plan``), reads what they did (from the
worker's /metrics, or from the in-process ``Monitor``), and raises ``WorkNotDone`` naming
every shortfall.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from streams.core.drift.monitor import Monitor

__all__ = ["Observed", "Plan", "WorkNotDone", "from_metrics", "from_monitor", "require_alerts"]

Samples = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]


class WorkNotDone(RuntimeError):
    """The benchmark's work did not happen as planned: its numbers must not be reported."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What a workload must make the monitors do.

    Parameters
    ----------
    events_per_model
        Events published for each model id.
    warmup_events, reference_events, window_events
        The settings the monitors ran with: a model's first ``warmup_events`` may go to spec
        inference, the next ``reference_events`` to its reference, then windows close.
    reference_only
        A workload that claims only ingestion and reference learning: no model may have
        built its reference (so no detector ran), and the plan must agree.
    """

    events_per_model: Mapping[str, int]
    warmup_events: int = 200
    reference_events: int = 5000
    window_events: int = 1000
    reference_only: bool = False

    def __post_init__(self) -> None:
        if not self.events_per_model:
            raise ValueError("a plan needs at least one model")
        if self.reference_only and any(
            self.builds_reference(m) is not False for m in self.events_per_model
        ):
            raise ValueError("reference_only, but some model gets enough events for a reference")

    @property
    def events(self) -> int:
        return sum(self.events_per_model.values())

    def builds_reference(self, model: str) -> bool | None:
        """Whether the model's reference must be built (True), must not be (False), or may
        be (None: the warm-up events may or may not have gone into it)."""
        events = self.events_per_model[model]
        if events >= self.warmup_events + self.reference_events:
            return True
        return None if events >= self.reference_events else False

    def min_windows(self, model: str) -> int:
        """Windows the model must have closed at least (warm-up events may or may not have
        been fed to its monitor, so the bound assumes they were not)."""
        judged = self.events_per_model[model] - self.warmup_events - self.reference_events
        return max(0, judged // self.window_events)


@dataclass(slots=True)
class Observed:
    """What the monitors did, per model id."""

    accepted: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    reference_ready: dict[str, bool] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)

    def check(self, plan: Plan, what: str) -> None:
        """Raise ``WorkNotDone`` listing every way this falls short of ``plan``."""
        problems = []
        if self.rejected:
            problems.append(f"{self.rejected:,} events rejected (dead-lettered)")
        for model, published in plan.events_per_model.items():
            accepted = self.accepted.get(model, 0)
            if accepted != published:
                problems.append(f"{model}: {accepted:,} of {published:,} events accepted")
            ready, windows = self.reference_ready.get(model, False), self.windows.get(model, 0)
            due = plan.builds_reference(model)
            if due is not None and ready != due:
                state = "built" if ready else "not built"
                problems.append(f"{model}: reference {state}, the plan says otherwise")
            if windows < plan.min_windows(model):
                problems.append(
                    f"{model}: {windows} windows closed, at least {plan.min_windows(model)} due"
                )
        if problems:
            shown = "; ".join(problems[:10]) + (
                f"; and {len(problems) - 10} more" * (len(problems) > 10)
            )
            raise WorkNotDone(f"{what}: the work did not happen: {shown}")


def from_metrics(samples: Samples) -> Observed:
    """What a worker did, from its /metrics samples (``WorkerProcess.metrics()``)."""
    observed = Observed()
    for (name, labels), value in samples.items():
        label = dict(labels)
        model = label.get("model", "")
        if name == "driftline_events_processed_total":
            observed.accepted[model] = observed.accepted.get(model, 0) + int(value)
        elif name == "driftline_events_rejected_total":
            observed.rejected += int(value)
        elif name == "driftline_monitor_reference_ready":
            observed.reference_ready[model] = observed.reference_ready.get(model, False) or bool(
                value
            )
        elif name == "driftline_monitor_windows_closed":
            observed.windows[model] = observed.windows.get(model, 0) + int(value)
    return observed


def from_monitor(monitor: Monitor, accepted: Mapping[str, int], rejected: int) -> Observed:
    """What an in-process core did: the ingestor's counts and the monitors' state."""
    observed = Observed(accepted=dict(accepted), rejected=rejected)
    for (model, _version), watched in monitor.monitors.items():
        ready = watched.profile is not None
        observed.reference_ready[model] = observed.reference_ready.get(model, False) or ready
        observed.windows[model] = observed.windows.get(model, 0) + watched.windows_closed
    return observed


def require_alerts(count: int, at_least: int, what: str) -> None:
    """Raise ``WorkNotDone`` unless ``count`` alerts, the ones the workload must raise, came."""
    if count < at_least:
        raise WorkNotDone(f"{what}: {count} alerts, at least {at_least} expected")
