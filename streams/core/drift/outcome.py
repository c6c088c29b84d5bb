"""What one batch did to the monitors: returned by ``process``, read by metrics and storage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.core.alerts.alert import Alert
from streams.core.contract.columns import Columns
from streams.core.detectors.base import Verdict

__all__ = ["BatchOutcome", "Key"]

#: (model id, model version)
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The alerts a batch raised and what else it left to report.

    ``touched`` are the model versions whose monitors took events (their state changed);
    ``verdicts`` the (feature or None for the whole model, verdict) pairs of the windows
    each closed; ``anomalies`` its count of anomalous events; ``unwatched`` the accepted
    events no monitor judged, by (model id, reason); ``columns`` what each version's monitor
    read of its events (features, then score and prediction), chunk by chunk in stream
    order, so that summaries of the batch need not read the events again.
    """

    alerts: tuple[Alert, ...] = ()
    touched: tuple[Key, ...] = ()
    verdicts: Mapping[Key, tuple[tuple[str | None, Verdict], ...]] = field(default_factory=dict)
    anomalies: Mapping[Key, int] = field(default_factory=dict)
    unwatched: Mapping[tuple[str, str], int] = field(default_factory=dict)
    columns: Mapping[Key, tuple[Columns, ...]] = field(default_factory=dict)

    @classmethod
    def merged(
        cls, outcomes: Iterable[BatchOutcome], unwatched: Mapping[tuple[str, str], int]
    ) -> BatchOutcome:
        """One outcome of several model versions' outcomes, in their order."""
        parts = list(outcomes)
        return cls(
            alerts=tuple(a for part in parts for a in part.alerts),
            touched=tuple(k for part in parts for k in part.touched),
            verdicts={k: v for part in parts for k, v in part.verdicts.items()},
            anomalies={k: v for part in parts for k, v in part.anomalies.items()},
            unwatched=dict(unwatched),
            columns={k: v for part in parts for k, v in part.columns.items()},
        )
