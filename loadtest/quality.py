"""Detection quality of Driftline's defaults next to river's ADWIN and PageHinkley, no servers.

For every ``driftline simulate`` drift kind (abrupt, gradual, variance, categorical,
missing_rate; gradual twice: 1.0 and 0.5 sigma over 10,000 events) plus a stationary control,
over N seeds, the SAME simulated streams go through these setups:

- Driftline defaults: ingestion + the monitor exactly as ``bench_false_alarms.py`` runs them;
  a detection is a ``firing`` alert.
- Driftline with one drift detector of numeric features alone (PSI, ADWIN or CUSUM; the
  other two of the drift rule off, every other detector at its defaults), on the numeric
  drifts and the control: each one's own delay, where the defaults show the first of them.
- river ``ADWIN()`` / river ``PageHinkley()`` at their defaults, one per numeric feature, fed
  every raw value (missing ones skipped); a detection is ``drift_detected`` after an update.
  They do not apply to categorical values ("n/a"); for missing_rate the drifted feature is fed
  as a 0/1 "is missing" indicator instead, so that they can see the change at all.

Metrics after Bifet (mean time to detect, missed-detection ratio, false alarm rate): the mean
delay in events from the drift start to the first detection on the drifted feature at or after
it (for Driftline on missing_rate, a ``data_quality`` alert), the seeds where that never
happened within the stream, and the false alarms per 1,000,000 stream events: detections on
any other feature (model-level alerts included) at any time, or on the drifted feature before
the start. On the stationary control every detection is a false alarm.

Driftline's run of each stream is checked before it is scored (``loadtest/work_done.py``):
every event accepted, the reference built, the windows due closed; otherwise the benchmark
fails, so a regression that dead-letters everything cannot pass as "no false alarm".

Run: .venv/bin/python -m loadtest.quality [--seeds 10] [--quick]
(--seeds 10: about 2 minutes on 2 cores; --quick: 2 seeds, shorter streams, about 20 s)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
from river.drift import ADWIN, PageHinkley

from loadtest.quality_table import Row, format_table
from loadtest.work_done import Plan, from_monitor
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.detectors import configs_from_json
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import EventChunk, Scenario, StreamConfig, generate_events, raw_records

__all__ = ["CASES", "SETUPS", "Case", "Layout", "Row", "applies", "format_table", "run"]

DRIFTLINE, ADWIN_SETUP, PAGE_HINKLEY_SETUP = (
    "Driftline defaults",
    "river ADWIN",
    "river PageHinkley",
)
DRIFT_DETECTORS = ("psi", "adwin", "cusum")
#: Driftline with one drift detector alone, by setup name: the settings that leave it so.
ALONE = {
    f"Driftline {name.upper()} alone": MonitorConfig(
        detectors=configs_from_json(
            "{"
            + ", ".join(f'"{o}": {{"enabled": false}}' for o in DRIFT_DETECTORS if o != name)
            + "}"
        )
    )
    for name in DRIFT_DETECTORS
}
SETUPS = (DRIFTLINE, *ALONE, ADWIN_SETUP, PAGE_HINKLEY_SETUP)
MODEL_LEVEL = "(model)"  # the feature of a model-level alert (Mahalanobis anomaly rate)
SEED_STEP = 211  # drift starts at different points of a 1,000-event window


class Detector(Protocol):
    """What river's drift detectors offer and this benchmark uses."""

    @property
    def drift_detected(self) -> bool: ...

    def update(self, x: float) -> object: ...


RIVER_FACTORIES: dict[str, Callable[[], Detector]] = {
    ADWIN_SETUP: ADWIN,
    PAGE_HINKLEY_SETUP: PageHinkley,
}


@dataclass(frozen=True, slots=True)
class Case:
    """A scenario row group: one drift kind injected into one feature, or none (the control)."""

    name: str
    feature: str | None = None
    magnitude: float | None = None
    duration: int | None = None
    kind: str | None = None  # the scenario kind, when the name is not one

    @property
    def drifts(self) -> bool:
        return self.feature is not None

    @property
    def scenario_kind(self) -> str:
        return self.kind or self.name


def applies(case: Case, setup: str) -> bool:
    """River takes numbers, not categories; a drift detector alone is run on the numeric
    drifts and the control only."""
    if setup in ALONE:
        return case.scenario_kind in ("abrupt", "gradual", "variance", "stationary")
    return setup == DRIFTLINE or case.name != "categorical"


CASES = (
    Case("abrupt", "x7", 0.5),
    Case("gradual", "x7", 1.0, duration=10_000),
    Case("gradual 0.5", "x7", 0.5, duration=10_000, kind="gradual"),
    Case("variance", "x7", 1.5),
    Case("categorical", "c1", 0.5),
    Case("missing_rate", "x2", 0.3),
    Case("stationary"),
)


@dataclass(frozen=True, slots=True)
class Layout:
    """Stream lengths: the drift starts at ``first_drift + 211 * seed`` and the stream runs
    ``after`` events past it (``gradual_after`` for the slow ramp)."""

    first_drift: int
    after: int
    gradual_after: int
    stationary: int

    def span(self, case: Case, seed: int) -> tuple[int, int]:
        """(drift start, stream length); the control's start is its length: no drift in it."""
        if not case.drifts:
            return self.stationary, self.stationary
        start = self.first_drift + SEED_STEP * seed
        gradual = case.scenario_kind == "gradual"
        return start, start + (self.gradual_after if gradual else self.after)


FULL = Layout(first_drift=20_000, after=10_000, gradual_after=15_000, stationary=50_000)
# Still past the 200-event warm-up and the 5,000-event reference, so the same detectors judge.
QUICK = Layout(first_drift=8_000, after=5_000, gradual_after=10_000, stationary=20_000)


class Detection(NamedTuple):
    feature: str
    index: int  # stream index of the event at which it was raised
    type: str  # Driftline's alert type; "drift" for river


@dataclass(slots=True)
class Tally:
    """Per (scenario, setup) totals while seeds are run."""

    delays: list[int] = field(default_factory=list)
    false_alarms: int = 0
    events: int = 0
    seconds: float = 0.0


class DriftlineRun:
    """The project's own pipeline at its defaults, as ``bench_false_alarms.py`` runs it."""

    def __init__(
        self,
        config: StreamConfig,
        registry: SpecRegistry | None = None,
        monitor_config: MonitorConfig | None = None,
    ) -> None:
        registry = registry or SpecRegistry(warmup_events=200)
        self.config = config
        self.ingestor = Ingestor(EventDecoder(), registry)
        self.monitor = Monitor(registry, monitor_config or MonitorConfig())
        self.detections: list[Detection] = []
        self.seconds = 0.0
        self.accepted = self.rejected = 0

    def check(self, events: int) -> None:
        """``WorkNotDone`` unless all ``events`` were accepted and judged as planned."""
        plan = Plan(
            {self.config.model_id: events}, warmup_events=self.ingestor.registry.warmup_events
        )
        observed = from_monitor(self.monitor, {self.config.model_id: self.accepted}, self.rejected)
        observed.check(plan, f"Driftline on seed {self.config.seed}")

    def feed(self, chunk: EventChunk) -> None:
        started = time.perf_counter()
        records = raw_records(self.config, chunk)
        result = self.ingestor.ingest(records)
        self.accepted += len(result.accepted)
        self.rejected += len(result.rejected)
        for alert in self.monitor.process(result.accepted, result.positions).alerts:
            if alert.status == "firing":
                feature = alert.feature or MODEL_LEVEL
                self.detections.append(Detection(feature, alert.trigger.offset, alert.type))
        self.seconds += time.perf_counter() - started


class RiverRun:
    """One river detector per numeric feature, fed the chunk's numeric columns directly."""

    def __init__(
        self, factory: Callable[[], Detector], names: Iterable[str], indicator: str | None
    ) -> None:
        self.names = tuple(names)
        self.detectors = [factory() for _ in self.names]
        self.indicator = indicator  # fed as 0/1 "is missing" rather than its values
        self.detections: list[Detection] = []
        self.seconds = 0.0

    def feed(self, chunk: EventChunk) -> None:
        started = time.perf_counter()
        for column, (name, detector) in enumerate(zip(self.names, self.detectors, strict=True)):
            values = chunk.numeric[:, column]
            if name == self.indicator:
                values = np.isnan(values).astype(np.float64)
            # tolist(): Python floats, several times faster to pass to update() than numpy's.
            for index in _hits(detector, values.tolist(), chunk.start):
                self.detections.append(Detection(name, index, "drift"))
        self.seconds += time.perf_counter() - started


def _hits(detector: Detector, values: list[float], start: int) -> list[int]:
    """Stream indices where ``detector`` flags a drift. The hot loop: ~0.4 us (ADWIN) to
    ~0.8 us (PageHinkley) per value, so nothing else happens in it."""
    update = detector.update
    hits = []
    for i, value in enumerate(values):
        if value != value:  # NaN, a missing value: nothing to feed
            continue
        update(value)
        if detector.drift_detected:
            hits.append(start + i)
    return hits


def _config(case: Case, seed: int, start: int) -> StreamConfig:
    if not case.drifts:
        return StreamConfig(seed=seed)
    scenario = Scenario(
        kind=case.scenario_kind,
        feature=case.feature,
        start=start,
        magnitude=case.magnitude,
        duration=case.duration,
    )
    return StreamConfig(seed=seed, scenarios=(scenario,))


def _stream(case: Case, config: StreamConfig, length: int) -> dict[str, DriftlineRun | RiverRun]:
    """Every applicable setup run over the same chunks of one stream."""
    runs: dict[str, DriftlineRun | RiverRun] = {DRIFTLINE: DriftlineRun(config)}
    for setup, settings in ALONE.items():
        if applies(case, setup):
            runs[setup] = DriftlineRun(config, monitor_config=settings)
    indicator = case.feature if case.name == "missing_rate" else None
    for setup, factory in RIVER_FACTORIES.items():
        if applies(case, setup):
            runs[setup] = RiverRun(factory, config.numeric_names, indicator)
    for chunk in generate_events(config, length):
        for setup_run in runs.values():
            setup_run.feed(chunk)
    for setup_run in runs.values():
        if isinstance(setup_run, DriftlineRun):
            setup_run.check(length)
    return runs


def _score(
    detections: list[Detection], case: Case, start: int, wanted: str | None
) -> tuple[int | None, int]:
    """(delay of the first detection of the drift or None, number of false alarms).

    ``wanted``: the alert type that counts as catching it (None: any). Other detections on the
    drifted feature after the start are neither a detection nor a false alarm.
    """
    caught = [
        d.index
        for d in detections
        if d.feature == case.feature and d.index >= start and wanted in (None, d.type)
    ]
    false_alarms = sum(1 for d in detections if d.feature != case.feature or d.index < start)
    return (min(caught) - start if caught else None), false_alarms


def _wanted(setup: str, case: Case) -> str | None:
    # A rise of the missing rate is a data_quality alert; only that one means Driftline saw it.
    # A drift detector alone is scored by drift alerts only: out_of_range (data_quality) sees
    # a variance change too, and would stand in for it.
    if setup in ALONE:
        return "data_drift"
    return "data_quality" if setup == DRIFTLINE and case.name == "missing_rate" else None


def _row(case: Case, setup: str, seeds: int, tally: Tally | None) -> Row:
    if tally is None:  # a setup that does not apply (river on categorical values)
        return Row(case.name, setup, seeds, None, None)
    delays = tuple(tally.delays) if case.drifts else None
    return Row(case.name, setup, seeds, delays, tally.false_alarms / tally.events * 1e6)


def _run_case(case: Case, seeds: int, layout: Layout) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for seed in range(seeds):
        start, length = layout.span(case, seed)
        runs = _stream(case, _config(case, seed, start), length)
        for setup, setup_run in runs.items():
            tally = tallies.setdefault(setup, Tally())
            delay, false_alarms = _score(setup_run.detections, case, start, _wanted(setup, case))
            if delay is not None:
                tally.delays.append(delay)
            tally.false_alarms += false_alarms
            tally.events += length
            tally.seconds += setup_run.seconds
    return tallies


def run(seeds: int, quick: bool, *, log: Callable[[str], object] | None = None) -> list[Row]:
    """One row per (scenario, setup), scenarios in ``CASES`` order, setups in ``SETUPS``."""
    layout = QUICK if quick else FULL
    rows = []
    for case in CASES:
        started = time.perf_counter()
        tallies = _run_case(case, seeds, layout)
        rows += [_row(case, setup, seeds, tallies.get(setup)) for setup in SETUPS]
        if log is not None:
            busy = ", ".join(f"{s} {t.seconds:.1f} s" for s, t in tallies.items())
            log(f"{case.name}: {time.perf_counter() - started:.1f} s ({busy})")
    return rows


def _notes(layout: Layout) -> str:
    return "\n".join(
        [
            f"Drift starts at event {layout.first_drift:,} + {SEED_STEP} x seed; streams run "
            f"{layout.after:,} events past it ({layout.gradual_after:,} for gradual); the "
            f"stationary control is {layout.stationary:,} events per seed.",
            "Drifted feature: x7 (abrupt 0.5 sigma, gradual 1.0 and 0.5 sigma over 10,000 "
            "events, variance x1.5), c1 (categorical, 0.5), x2 (missing_rate, 0.3).",
            "Driftline watches 24 features + score + prediction + a model-level anomaly rate; "
            "river one detector per numeric feature (20). False alarms are counted per "
            "1,000,000 stream events, whatever the number of features watched.",
            "missing_rate: river is fed a 0/1 'is missing' indicator of x2 (the other "
            "features their values); Driftline counts only a data_quality alert on x2.",
            "n/a: river's detectors take numbers, not categories; a Driftline drift detector "
            "alone (PSI, ADWIN, CUSUM: the others of the drift rule off) was run on the "
            "numeric drifts and the control only.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, help="default 10, or 2 with --quick")
    parser.add_argument("--quick", action="store_true", help="2 seeds, shorter streams")
    args = parser.parse_args()
    seeds = args.seeds or (2 if args.quick else 10)

    started = time.perf_counter()
    rows = run(seeds, args.quick, log=lambda line: print(line, file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - started

    command = f".venv/bin/python -m loadtest.quality --seeds {seeds}" + " --quick" * args.quick
    print(format_table(rows))
    print()
    print(_notes(QUICK if args.quick else FULL))
    print()
    print(f"`{command}`: {seeds} seeds, {elapsed:.0f} s in total")


if __name__ == "__main__":
    main()
