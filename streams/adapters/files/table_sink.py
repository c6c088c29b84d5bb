"""Alerts as a readable table, one line each: ``replay``'s output on a terminal.

A person reading alerts needs what fired, where, how strongly and when; the full JSON (with
its sample and ids) stays the output of a pipe or a file (``JsonlAlertSink``).
"""

from __future__ import annotations

from typing import TextIO

from streams.core.alerts.alert import Alert, format_time
from streams.core.alerts.sink import AlertBatch

__all__ = ["TableAlertSink"]

# (heading, width); the last column (the trigger's time) takes what it needs.
_COLUMNS = (
    ("STATUS", 8), ("SEVERITY", 8), ("TYPE", 18), ("MODEL", 22), ("FEATURE", 14),
    ("STATISTIC", 16), ("VALUE", 10), ("THRESHOLD", 10), ("WINDOW", 7), ("OFFSET", 9),
    ("AT", 0),
)  # fmt: skip


class TableAlertSink:
    """Alerts to ``out`` as table rows under one heading; retraining requests are left to
    another sink (this one ignores them).

    >>> import asyncio, io
    >>> from streams.core.alerts.alert import Trigger, Window
    >>> alert = Alert(type="data_drift", status="firing", severity="warning",
    ...     model_id="churn", model_version="v1", feature="age", detector="psi",
    ...     statistic_name="psi", value=0.4123, threshold=0.2, window=Window(0, 9_990, 1000),
    ...     trigger=Trigger("e-999", 0, 999, 9_990), episode="e")
    >>> out = io.StringIO()
    >>> asyncio.run(TableAlertSink(out).publish(AlertBatch.of([alert])))
    >>> for line in out.getvalue().splitlines():
    ...     print(" ".join(line.split()))  # one space between cells, to fit here
    STATUS SEVERITY TYPE MODEL FEATURE STATISTIC VALUE THRESHOLD WINDOW OFFSET AT
    firing warning data_drift churn v1 age psi 0.4123 0.2 1000 999 1970-01-01T00:00:09.990Z
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._headed = False

    async def publish(self, batch: AlertBatch) -> None:
        if batch.alerts and not self._headed:
            self.out.write(_line([heading for heading, _ in _COLUMNS]) + "\n")
            self._headed = True
        for alert in batch.alerts:
            self.out.write(_line(_cells(alert)) + "\n")

    async def flush(self) -> None:
        self.out.flush()

    async def close(self) -> None:
        await self.flush()


def _cells(alert: Alert) -> list[str]:
    return [
        alert.status,
        alert.severity,
        alert.type,
        f"{alert.model_id} {alert.model_version}",
        alert.feature or "-",
        alert.statistic_name,
        f"{alert.value:.4g}",
        f"{alert.threshold:.4g}",
        str(alert.window.count),
        str(alert.trigger.offset),
        format_time(alert.trigger.timestamp_ms),
    ]


def _line(cells: list[str]) -> str:
    return " ".join(_fit(cell, width) for cell, (_, width) in zip(cells, _COLUMNS, strict=True))


def _fit(text: str, width: int) -> str:
    """``text`` padded to ``width``, or cut with a visible mark (0: as it is)."""
    if not width:
        return text
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "~"
