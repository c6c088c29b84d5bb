"""Embedded replay: a JSONL file through the same core as the worker, with no servers.

Alerts go out as JSON lines, rejected lines to a dead-letter file with their line number and
reason. ``trigger.offset`` is the 0-based line number; the same file gives the same alerts.
With a labels file (backtesting), every prediction is read first, then the labels are
joined in memory in file order and judged by the same performance monitors as the worker's:
performance, concept-drift and fairness alerts, and retraining requests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

import orjson

from streams.core.contract.decoder import LabelDecoder
from streams.core.contract.event import RawRecord
from streams.core.contract.ingestor import Ingestor, Rejection
from streams.core.contract.pii import pii_attributes_by_model
from streams.core.drift.monitor import Monitor
from streams.core.errors import InvalidEvent
from streams.core.labels.labelled import JoinOutcome, LabelledPrediction, MemoryLabelJoin
from streams.core.labels.performance_monitor import PerformanceConfig, PerformanceMonitor

__all__ = ["REPLAY_DEAD_LETTER_SCHEMA_VERSION", "LabelReplay", "ReplaySummary", "replay"]

# The major version of schemas/replay_dead_letter.json the --dlq lines follow.
REPLAY_DEAD_LETTER_SCHEMA_VERSION = 1
_MAX_DLQ_VALUE_CHARS = 1000


@dataclass(slots=True)
class ReplaySummary:
    lines: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    unwatched: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    retrain_requests: int = 0

    def describe(self) -> str:
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(self.rejected.items()))
        return (
            f"replayed {self.lines} lines: {self.accepted} accepted, "
            f"{sum(self.rejected.values())} rejected{f' ({rejected})' if rejected else ''}, "
            f"{self.unwatched} before a spec existed; alerts: "
            f"{self.alerts['firing']} firing, {self.alerts['resolved']} resolved"
            + self._describe_labels()
        )

    def _describe_labels(self) -> str:
        if not self.labels:
            return ""
        outcomes = ", ".join(f"{outcome} {n}" for outcome, n in sorted(self.labels.items()))
        return f"; labels: {outcomes}; {self.retrain_requests} retraining requests"


@dataclass(frozen=True, slots=True)
class LabelReplay:
    """A labels file to join after the predictions, and where retraining requests go."""

    lines: Iterable[bytes]
    source: str
    config: PerformanceConfig = field(default_factory=PerformanceConfig)
    ttl_ms: int | None = None
    retrain_out: BinaryIO | None = None


def replay(
    lines: Iterable[bytes],
    *,
    source: str,
    ingestor: Ingestor,
    monitor: Monitor,
    alerts_out: BinaryIO,
    dead_letters_out: BinaryIO | None = None,
    batch_size: int = 1000,
    labels: LabelReplay | None = None,
) -> ReplaySummary:
    """Run ``lines`` through ingestion and monitoring in batches of ``batch_size``, then
    ``labels`` through the join and the performance monitors."""
    summary = ReplaySummary()
    join = None if labels is None else MemoryLabelJoin(ttl_ms=labels.ttl_ms, pii=monitor.pii)
    records = _records(lines, source)
    while batch := list(islice(records, batch_size)):
        result = ingestor.ingest(batch)
        if join is not None:
            join.keep(
                result.accepted, pii_attributes_by_model(result.accepted, monitor.registry.spec_for)
            )
        summary.lines += len(batch)
        summary.accepted += len(result.accepted)
        for rejection in result.rejected:
            summary.rejected[rejection.reason.value] += 1
            if dead_letters_out is not None:
                dead_letters_out.write(_dead_letter_line(rejection))
        for alert in monitor.process(result.accepted, result.positions).alerts:
            summary.alerts[alert.status] += 1
            alerts_out.write(orjson.dumps(alert.to_dict()) + b"\n")
    summary.unwatched = monitor.unwatched
    if labels is not None and join is not None:
        _replay_labels(labels, join, monitor, alerts_out, dead_letters_out, summary, batch_size)
    return summary


def _replay_labels(
    labels: LabelReplay,
    join: MemoryLabelJoin,
    monitor: Monitor,
    alerts_out: BinaryIO,
    dead_letters_out: BinaryIO | None,
    summary: ReplaySummary,
    batch_size: int,
) -> None:
    decoder, monitors = LabelDecoder(), {}
    records = _records(labels.lines, labels.source)
    while batch := list(islice(records, batch_size)):
        groups: dict[tuple[str, str], list[tuple[LabelledPrediction, tuple[int, int]]]] = {}
        for record in batch:
            try:
                label = decoder.decode(record)
            except InvalidEvent as exc:
                summary.labels["rejected"] += 1
                if dead_letters_out is not None:
                    dead_letters_out.write(_dead_letter_line(Rejection.of(record, exc)))
                continue
            outcome, joined = join.join(label)
            summary.labels[outcome.value] += 1
            if outcome is JoinOutcome.JOINED and joined is not None:
                key = (joined.model_id, joined.model_version)
                groups.setdefault(key, []).append((joined, (0, record.offset)))
        for (model_id, version), pairs in groups.items():
            watcher = monitors.get((model_id, version))
            spec = monitor.registry.spec_for(model_id, version)
            if watcher is None and spec is not None:
                watcher = monitors[model_id, version] = PerformanceMonitor(
                    monitor.pii.fairness_view(spec), version, labels.config
                )
            if watcher is None:
                summary.labels["unwatched"] += len(pairs)
                continue
            for alert in watcher.process([p for p, _ in pairs], [at for _, at in pairs]):
                summary.alerts[alert.status] += 1
                alerts_out.write(orjson.dumps(alert.to_dict()) + b"\n")
            for request in watcher.take_retrain_requests():
                summary.retrain_requests += 1
                if labels.retrain_out is not None:
                    labels.retrain_out.write(orjson.dumps(request.to_dict()) + b"\n")


def _records(lines: Iterable[bytes], source: str) -> Iterator[RawRecord]:
    # Without a record time, an event without a timestamp gets 0: replays stay deterministic.
    for number, line in enumerate(lines):
        yield RawRecord(line.rstrip(b"\r\n"), 0, source, 0, number)


def _dead_letter_line(rejection: Rejection) -> bytes:
    value = (rejection.record.value or b"").decode("utf-8", errors="replace")
    return (
        orjson.dumps(
            {
                "schema_version": REPLAY_DEAD_LETTER_SCHEMA_VERSION,
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
