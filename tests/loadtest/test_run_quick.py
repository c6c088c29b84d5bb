"""CI's smoke test of the load test: every mode does the work it was given.

It asserts nothing about speed (benchmarks are not unit tests); a mode that falls short of
its events, or a Driftline worker that did not accept every event, build every reference
and close the windows due, makes the runner fail (the second test breaks it on purpose).
"""

from __future__ import annotations

import os

import pytest

from loadtest.run import Workload, run_workload
from loadtest.work_done import WorkNotDone
from streams import stack
from tests.loadtest.modules import run_module

pytestmark = pytest.mark.integration


def test_the_quick_load_test_runs_every_mode_to_the_end():
    printed = run_module("loadtest.run", "--quick", timeout_s=300)
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "---" not in line]
    modes = {line.split("|")[2].strip() for line in rows[1:]}
    assert modes == {
        "producer (confluent-kafka)",
        "ceiling: consume + orjson",
        "bare Faust",
        "bare Faust, chunked",
        "naive Faust + river + Redis",
        "Driftline worker",
    }
    workloads = {line.split("|")[1].strip() for line in rows[1:]}
    assert workloads == {
        "1 model",
        "2 models",
        "5 models x 800 events: ingestion + reference learning only",
    }
    # The reference-learning row runs the producer and the worker only, no baseline.
    assert len(rows) - 1 == 2 * len(modes) + 2
    assert "of bare Faust chunked (the worker's route)" in printed
    assert "event-to-alert latency at" in printed


def test_a_worker_that_dead_letters_everything_fails_the_run(tmp_path):
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    workload = Workload("1 model", 1, 1_500, baselines=False)
    settings = {
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
        "DRIFTLINE_UNKNOWN_MODELS": "reject",  # no spec registered: every event rejected
    }
    with pytest.raises(WorkNotDone, match="1,500 events rejected"):
        run_workload(config, workload, 0, tmp_path, settings)
