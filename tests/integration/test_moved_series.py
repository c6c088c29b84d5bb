"""After a rebalance, the worker a model left stops exporting the model's per-version series
(a frozen copy beside the new owner's), and keeps those of the model it still holds."""

from __future__ import annotations

import time
import zlib

import pytest

from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.simulation import StreamConfig, keyed_events
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import free_port, isolated_env

pytestmark = pytest.mark.integration

# Warm-up, reference and a closed window each; two by-model partitions, one model on each.
EVENTS, PARTITIONS = 1_700, 2
MODELS = ("it-moved-a", "it-moved-d")
PER_VERSION = ("driftline_monitor_reference_ready", "driftline_window_statistic")


def _exported(worker: WorkerProcess) -> dict[str, set[str]]:
    """The models each per-version family of ``worker`` has series of."""
    found: dict[str, set[str]] = {name: set() for name in PER_VERSION}
    for name, labels in worker.metrics():
        if name in found:
            found[name].add(dict(labels)["model"])
    return found


def _one_partition(worker: WorkerProcess) -> list[int] | None:
    partitions = worker.health()[1]["stream"]["partitions"]
    return partitions if len(partitions) == 1 else None


def _wait(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return value


def test_the_worker_a_model_left_stops_exporting_its_series(stack_config, tmp_path):
    assert {zlib.crc32(m.encode()) % PARTITIONS for m in MODELS} == {0, 1}
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_PARTITIONS": str(PARTITIONS),
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "500",
        "DRIFTLINE_STALL_S": "3",  # the grace after a rebalance
    }
    settings = Settings.from_env(env)
    streams = [StreamConfig(model_id=model, seed=i) for i, model in enumerate(MODELS)]
    first = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "first.log")
    second = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "second.log")
    try:
        first.start()
        for stream in streams:
            publish(settings.kafka, settings.topic_predictions, keyed_events(stream, EVENTS))
        everything = {name: set(MODELS) for name in PER_VERSION}
        _wait(lambda: _exported(first) == everything, 90, "both models' series on one worker")

        second.start()
        # By-model partition p goes with predictions partition p (co-partitioned topics).
        held = _wait(lambda: _one_partition(first), 60, "the rebalance")
        kept = next(m for m in MODELS if zlib.crc32(m.encode()) % PARTITIONS in held)
        moved = next(m for m in MODELS if m != kept)
        for stream in streams:  # both models go on: each on its owner
            publish(settings.kafka, settings.topic_predictions,
                    keyed_events(stream, 600, offset=EVENTS))  # fmt: skip

        # The kept model's series stay (or, on a slow machine, come back with its events).
        left = {name: {kept} for name in PER_VERSION}
        _wait(lambda: _exported(first) == left, 45, f"{moved}'s series to leave the worker it left")
        _wait(lambda: _exported(second)["driftline_monitor_reference_ready"] == {moved}, 45,
              f"{moved}'s series on its new owner")  # fmt: skip
    finally:
        second.stop()
        first.stop()
