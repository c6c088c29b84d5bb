"""Embedded replay: a JSONL file through the same core as the worker, with no servers.

Alerts and retraining requests go to an ``AlertSink`` (the CLI's writes JSON lines:
``files/jsonl_sink.py``), rejected lines to a dead-letter file with their line number and
reason. ``trigger.offset`` is the 0-based line number; the same file gives the same alerts.
With a labels file (backtesting), every prediction is read first, then the labels are
joined in memory in file order and judged by the same performance monitors as the worker's:
performance, concept-drift and fairness alerts, and retraining requests.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO, Protocol

import orjson

from streams.core.alerts.alert import Alert
from streams.core.alerts.retrain_request import RetrainRequest
from streams.core.alerts.sink import AlertBatch, AlertSink
from streams.core.contract.decoder import LabelDecoder
from streams.core.contract.duplicates import MemoryDuplicates, keep
from streams.core.contract.event import RawRecord
from streams.core.contract.ingestor import Ingestor, IngestResult, Rejection
from streams.core.contract.pii import pii_attributes_by_model
from streams.core.drift.monitor import Monitor
from streams.core.drift.outcome import BatchOutcome
from streams.core.errors import InvalidEvent
from streams.core.labels.label_reference import LabelReference
from streams.core.labels.labelled import JoinOutcome, MemoryLabelJoin
from streams.core.labels.performance_monitor import PerformanceConfig
from streams.core.labels.performance_monitors import (
    LabelledAt,
    PerformanceMonitors,
    PerformanceOutcome,
)

__all__ = [
    "REPLAY_DEAD_LETTER_SCHEMA_VERSION",
    "LabelReplay",
    "ReplayObserver",
    "ReplaySummary",
    "records_of",
    "replay",
]

# The major version of schemas/replay_dead_letter.json the --dlq lines follow.
REPLAY_DEAD_LETTER_SCHEMA_VERSION = 1
_MAX_DLQ_VALUE_CHARS = 1000
# Bytes read from a replayed file at once.
_CHUNK_BYTES = 1 << 20


@dataclass(slots=True)
class ReplaySummary:
    lines: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    unwatched: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    retrain_requests: int = 0
    duplicates: int = 0

    def describe(self) -> str:
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(self.rejected.items()))
        return (
            f"replayed {self.lines} lines: {self.accepted} accepted, "
            f"{sum(self.rejected.values())} rejected{f' ({rejected})' if rejected else ''}, "
            f"{self.unwatched} before a spec existed; alerts: "
            f"{self.alerts['firing']} firing, {self.alerts['resolved']} resolved"
            + (f"; {self.duplicates} duplicate events skipped" if self.duplicates else "")
            + self._describe_labels()
        )

    async def publish(
        self, sink: AlertSink, alerts: Sequence[Alert], requests: Sequence[RetrainRequest] = ()
    ) -> None:
        """Hand a batch's alerts and requests to ``sink``, counting them."""
        self.alerts.update(alert.status for alert in alerts)
        self.retrain_requests += len(requests)
        await sink.publish(AlertBatch.of(alerts, requests))

    def _describe_labels(self) -> str:
        if not self.labels:
            return ""
        outcomes = ", ".join(f"{outcome} {n}" for outcome, n in sorted(self.labels.items()))
        return f"; labels: {outcomes}; {self.retrain_requests} retraining requests"


class ReplayObserver(Protocol):
    """Sees what each batch did, beside the sink (``driftline report`` draws from it)."""

    def predictions(self, result: IngestResult, outcome: BatchOutcome) -> None:
        """A batch of predictions: what ingestion kept and rejected, what the monitors did."""
        ...

    def labels(self, outcome: PerformanceOutcome) -> None:
        """A batch of labels: what the performance monitors did."""
        ...


@dataclass(frozen=True, slots=True)
class LabelReplay:
    """A labels file to join after the predictions."""

    lines: Iterable[bytes]
    source: str
    config: PerformanceConfig = field(default_factory=PerformanceConfig)
    ttl_ms: int | None = None
    #: References given up front (profiles' labelled validation sets), by (model, version).
    references: Mapping[tuple[str, str], LabelReference] = field(default_factory=dict)


def replay(
    lines: Iterable[bytes],
    *,
    source: str,
    ingestor: Ingestor,
    monitor: Monitor,
    sink: AlertSink,
    dead_letters_out: BinaryIO | None = None,
    batch_size: int = 1000,
    labels: LabelReplay | None = None,
    observer: ReplayObserver | None = None,
    duplicates: MemoryDuplicates | None = None,
) -> ReplaySummary:
    """Run ``lines`` through ingestion and monitoring in batches of ``batch_size``, then
    ``labels`` through the join and the performance monitors; alerts and retraining
    requests to ``sink`` (flushed at the end), each batch's outcome to ``observer``.
    ``duplicates`` skips (and counts) events seen before at another line."""
    summary = ReplaySummary()
    join = None if labels is None else MemoryLabelJoin(ttl_ms=labels.ttl_ms, pii=monitor.pii)

    async def run() -> None:
        await _replay_predictions(lines, source, ingestor, monitor, sink, join,
                                  dead_letters_out, summary, batch_size, observer,
                                  duplicates)  # fmt: skip
        if labels is not None and join is not None:
            await _replay_labels(labels, join, monitor, sink, dead_letters_out, summary,
                                 batch_size, observer)  # fmt: skip
        await sink.flush()

    asyncio.run(run())
    return summary


async def _replay_predictions(
    lines: Iterable[bytes],
    source: str,
    ingestor: Ingestor,
    monitor: Monitor,
    sink: AlertSink,
    join: MemoryLabelJoin | None,
    dead_letters_out: BinaryIO | None,
    summary: ReplaySummary,
    batch_size: int,
    observer: ReplayObserver | None,
    duplicates: MemoryDuplicates | None,
) -> None:
    records = records_of(lines, source)
    while batch := list(islice(records, batch_size)):
        result = ingestor.ingest(batch)
        if duplicates is not None:
            flags = duplicates.duplicates(result.accepted, result.positions)
            summary.duplicates += sum(flags)
            result.accepted, result.positions = keep(result.accepted, result.positions, flags)
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
        outcome = monitor.process(result.accepted, result.positions, result.rejected)
        if observer is not None:
            observer.predictions(result, outcome)
        await summary.publish(sink, outcome.alerts)
    summary.unwatched = monitor.unwatched


async def _replay_labels(
    labels: LabelReplay,
    join: MemoryLabelJoin,
    monitor: Monitor,
    sink: AlertSink,
    dead_letters_out: BinaryIO | None,
    summary: ReplaySummary,
    batch_size: int,
    observer: ReplayObserver | None,
) -> None:
    decoder = LabelDecoder()
    monitors = PerformanceMonitors(monitor.registry, labels.config, pii=monitor.pii,
                                   references=labels.references)  # fmt: skip
    records = records_of(labels.lines, labels.source)
    while batch := list(islice(records, batch_size)):
        pairs: list[LabelledAt] = []
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
                pairs.append((joined, (0, record.offset)))
        judged = monitors.process(pairs)
        if observer is not None:
            observer.labels(judged)
        if unwatched := sum(judged.unwatched.values()):
            summary.labels["unwatched"] += unwatched
        alerts = monitor.explained(judged.alerts)
        if monitor.rollouts is not None:
            alerts += monitor.rollouts.label(pairs, monitor.registry.spec_for)
        await summary.publish(sink, alerts, judged.retrain_requests)


def records_of(lines: Iterable[bytes], source: str) -> Iterator[RawRecord]:
    """The records of a file's lines (or of ``lines``), numbered from 0 as its offsets."""
    # Without a record time, an event without a timestamp gets 0: replays stay deterministic.
    for number, line in enumerate(_lines(lines)):
        yield RawRecord(line.rstrip(b"\r\n"), 0, source, 0, number)


def _lines(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a file read in big chunks (one call per line cost ~1 us each), else of
    ``lines`` as given; split on b"\n" as a file's iteration splits them."""
    read = getattr(lines, "read", None)
    if read is None:
        yield from lines
        return
    rest: list[bytes] = []  # the unfinished line's chunks (a line may span several)
    while chunk := read(_CHUNK_BYTES):
        if b"\n" not in chunk:
            rest.append(chunk)
            continue
        pieces = chunk.split(b"\n")
        rest.append(pieces[0])
        pieces[0] = b"".join(rest)
        rest = [pieces.pop()]
        yield from pieces
    if last := b"".join(rest):
        yield last


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
