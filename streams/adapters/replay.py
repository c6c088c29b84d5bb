"""Embedded replay: a JSONL file through the same core as the worker, with no servers.

Alerts go out as JSON lines, rejected lines to a dead-letter file with their line number and
reason. ``trigger.offset`` is the 0-based line number; the same file gives the same alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

import orjson

from streams.core.event import RawRecord
from streams.core.ingestor import Ingestor, Rejection
from streams.core.monitor import Monitor

__all__ = ["ReplaySummary", "replay"]

_MAX_DLQ_VALUE_CHARS = 1000


@dataclass(slots=True)
class ReplaySummary:
    lines: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    unwatched: int = 0

    def describe(self) -> str:
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(self.rejected.items()))
        return (
            f"replayed {self.lines} lines: {self.accepted} accepted, "
            f"{sum(self.rejected.values())} rejected{f' ({rejected})' if rejected else ''}, "
            f"{self.unwatched} before a spec existed; alerts: "
            f"{self.alerts['firing']} firing, {self.alerts['resolved']} resolved"
        )


def replay(
    lines: Iterable[bytes],
    *,
    source: str,
    ingestor: Ingestor,
    monitor: Monitor,
    alerts_out: BinaryIO,
    dead_letters_out: BinaryIO | None = None,
    batch_size: int = 1000,
) -> ReplaySummary:
    """Run ``lines`` through ingestion and monitoring in batches of ``batch_size``."""
    summary = ReplaySummary()
    records = _records(lines, source)
    while batch := list(islice(records, batch_size)):
        result = ingestor.ingest(batch)
        summary.lines += len(batch)
        summary.accepted += len(result.accepted)
        for rejection in result.rejected:
            summary.rejected[rejection.reason.value] += 1
            if dead_letters_out is not None:
                dead_letters_out.write(_dead_letter_line(rejection))
        for alert in monitor.process(result.accepted, result.positions):
            summary.alerts[alert.status] += 1
            alerts_out.write(orjson.dumps(alert.to_dict()) + b"\n")
    summary.unwatched = monitor.unwatched
    return summary


def _records(lines: Iterable[bytes], source: str) -> Iterator[RawRecord]:
    # Without a record time, an event without a timestamp gets 0: replays stay deterministic.
    for number, line in enumerate(lines):
        yield RawRecord(line.rstrip(b"\r\n"), 0, source, 0, number)


def _dead_letter_line(rejection: Rejection) -> bytes:
    value = (rejection.record.value or b"").decode("utf-8", errors="replace")
    return (
        orjson.dumps(
            {
                "line": rejection.record.offset,
                "reason": rejection.reason.value,
                "field": rejection.field,
                "message": rejection.detail,
                "error_class": rejection.error_class,
                "value": value[:_MAX_DLQ_VALUE_CHARS],
            }
        )
        + b"\n"
    )
