"""Alerts and retraining requests as JSON lines: ``replay``'s stdout and its ``--retrain`` file.

One line per record, exactly ``orjson.dumps(record.to_dict())`` and a newline: the replay
output format (compared byte for byte by the before/after checks of a refactor).
"""

from __future__ import annotations

from typing import BinaryIO

import orjson

from streams.core.alerts.sink import AlertBatch

__all__ = ["JsonlAlertSink"]


class JsonlAlertSink:
    """Alerts to ``alerts_out``; retraining requests to ``retrain_out`` (each dropped when
    None: ``replay --format table`` writes its alerts elsewhere and keeps only the requests).

    The files stay the caller's: ``close`` flushes them and leaves them open.
    """

    def __init__(self, alerts_out: BinaryIO | None, retrain_out: BinaryIO | None = None) -> None:
        self.alerts_out = alerts_out
        self.retrain_out = retrain_out

    async def publish(self, batch: AlertBatch) -> None:
        if self.alerts_out is not None:
            for alert in batch.alerts:
                self.alerts_out.write(orjson.dumps(alert.to_dict()) + b"\n")
        if self.retrain_out is not None:
            for request in batch.retrain_requests:
                self.retrain_out.write(orjson.dumps(request.to_dict()) + b"\n")

    async def flush(self) -> None:
        if self.alerts_out is not None:
            self.alerts_out.flush()
        if self.retrain_out is not None:
            self.retrain_out.flush()

    async def close(self) -> None:
        await self.flush()
