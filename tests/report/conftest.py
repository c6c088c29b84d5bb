"""Replays shared by the report's tests: the same files ``driftline report`` would read."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.adapters.files.report.runner import ReportInput, ReportRun, run_report
from streams.adapters.files.spec_files import load_spec_files
from streams.core.contract.pii import PiiPolicy
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig, write_jsonl
from streams.stack import debian
from tests.adapters import test_replay_contracts as every_alert

# Defaults: a 5,000-event reference, then windows of 1,000 events.
DRIFT_AT = 8_000
DRIFT_WINDOW = (DRIFT_AT - 5_000) // 1_000


def replay_for_report(events: Path, labels: Path | None = None, spec: Path | None = None):
    specs = load_spec_files([spec]) if spec else []
    source = ReportInput(events, labels, specs=specs)
    return run_report(source, Settings.from_env({}), PiiPolicy(mode="drop"))


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium (installed on first use, as the stack installs servers)."""
    return debian.chromium(print)


@pytest.fixture(scope="session")
def drifted(tmp_path_factory) -> ReportRun:
    """x7 shifts abruptly at ``DRIFT_AT`` and stays shifted."""
    events = tmp_path_factory.mktemp("drifted") / "events.jsonl"
    scenario = Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0)
    write_jsonl(events, StreamConfig(seed=3, scenarios=(scenario,)), 12_000)
    return replay_for_report(events)


@pytest.fixture(scope="session")
def steady(tmp_path_factory) -> ReportRun:
    events = tmp_path_factory.mktemp("steady") / "events.jsonl"
    write_jsonl(events, StreamConfig(seed=3), 12_000)
    return replay_for_report(events)


@pytest.fixture(scope="session")
def every_alert_files(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The stream that makes every alert type fire and resolve (drift, missing values and an
    anomaly burst between ``CHANGE`` and ``BACK``, worse and unfair labels for group B),
    with a spec, labels and two bad lines: events, labels, spec."""
    folder = tmp_path_factory.mktemp("every-alert")
    events, labels, spec = (folder / name for name in ("events.jsonl", "labels.jsonl",
                                                         "spec.json"))  # fmt: skip
    spec.write_bytes(orjson.dumps(every_alert.spec()))
    write_jsonl(events, every_alert.CONFIG, every_alert.EVENTS)
    with events.open("ab") as out:
        out.write(b'not json\n{"event_id": "x"}\n')
    labels.write_bytes(b"\n".join(every_alert.labels(events)) + b"\n")
    return events, labels, spec


@pytest.fixture(scope="session")
def every_alert_run(every_alert_files) -> ReportRun:
    return replay_for_report(*every_alert_files)
