"""Replay a file for the report: the same replay, core and settings as ``driftline replay``,
with a ``ReportRecorder`` watching each batch and the alerts kept in memory."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from streams.adapters.files.replay import LabelReplay, ReplaySummary, replay
from streams.adapters.files.report.page_model import VersionPage, build_pages
from streams.adapters.files.report.progress import progress_lines
from streams.adapters.files.report.recorder import ReportRecorder
from streams.core.alerts.sink import MemoryAlertSink
from streams.core.contract.ingestor import Ingestor
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import ModelSpec
from streams.core.drift.monitor import Monitor
from streams.core.drift.profile import ReferenceProfile
from streams.settings import Settings

__all__ = ["ReportInput", "ReportRun", "run_report"]


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What ``driftline report`` reads: events, and optionally labels and profiles."""

    events: Path
    labels: Path | None = None
    profiles: Sequence[ReferenceProfile] = ()
    specs: Sequence[ModelSpec] = ()


@dataclass(slots=True)
class ReportRun:
    pages: list[VersionPage]
    summary: ReplaySummary
    recorder: ReportRecorder = field(repr=False)


def run_report(
    source: ReportInput, settings: Settings, pii: PiiPolicy, *, progress: TextIO | None = None
) -> ReportRun:
    """Replay ``source`` as ``driftline replay`` would and build the pages; a progress bar
    on ``progress`` (a terminal) while the events are read."""
    registry = settings.spec_registry(list(source.specs))
    monitor = Monitor(
        registry,
        settings.monitor_config(),
        profiles={(p.model_id, p.model_version): p for p in source.profiles},
        pii=pii,
    )
    recorder = ReportRecorder(monitor)
    with contextlib.ExitStack() as files:
        events = files.enter_context(source.events.open("rb"))
        labels = None
        if source.labels is not None:
            labels = LabelReplay(
                files.enter_context(source.labels.open("rb")),
                str(source.labels),
                config=settings.performance_config(),
                ttl_ms=settings.label_ttl_s * 1000,
            )
        summary = replay(
            progress_lines(events, progress),
            source=str(source.events),
            ingestor=Ingestor(settings.event_decoder(), registry),
            monitor=monitor,
            sink=MemoryAlertSink(),
            batch_size=settings.batch_size,
            labels=labels,
            observer=recorder,
        )
    return ReportRun(build_pages(recorder), summary, recorder)
