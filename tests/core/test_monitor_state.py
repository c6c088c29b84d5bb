"""A monitor restored from its snapshot goes on exactly as one that never stopped."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.core import EventDecoder, Ingestor, ModelSpec, SpecRegistry
from streams.core.detectors import configs_from_json
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records

CONFIG = MonitorConfig(window_events=500, reference_events=2000)
# A version 2 state predates CUSUM (on by default since): restored, its CUSUM would start
# afresh where the uninterrupted one has summed since the reference, so compare without it.
BEFORE_CUSUM = MonitorConfig(
    window_events=500, reference_events=2000,
    detectors=configs_from_json('{"cusum": {"enabled": false}, "unseen_categories": '
                                '{"enabled": false}, "type_change": {"enabled": false}}'),
)  # fmt: skip
# What a version 2 state cannot hold: the explanations' memory (added since, starting empty).
EXPLAINING = ("drifted", "contributions")


def unexplained(alerts):
    return [orjson.dumps({**a.to_dict(), "explanation": None}) for a in alerts]


def batches(count: int, size: int = 700):
    stream = StreamConfig(
        seed=5,
        scenarios=(Scenario(kind="abrupt", feature="x4", start=4_100, end=6_000, magnitude=1.0),),
    )
    records = [
        record
        for chunk in generate_events(stream, count)
        for record in raw_records(stream, chunk, partition=3)
    ]
    return [records[i : i + size] for i in range(0, count, size)]


def as_json(alerts):
    return [orjson.dumps(a.to_dict()) for a in alerts]


def through_storage(lose_every: int | None = None):
    """Alerts of a monitor run without a stop, and of one forgotten every few batches and
    restored from what its saves stored (sometimes mid-reference); with ``lose_every``,
    the storage also loses everything every that many batches, as the adapter finds at a
    save (the monitors held are then marked unsaved)."""
    registry = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), registry)
    uninterrupted, restarted = Monitor(registry, CONFIG), Monitor(registry, CONFIG)
    stored: dict = {"reference": []}
    expected, got = [], []
    # Long enough for the episode to resolve: with a 2,000-event reference x4's mean is off
    # by ~0.7 standard errors of a block mean, so CUSUM falls back only slowly after the drift.
    for number, batch in enumerate(batches(16_000)):
        result = ingestor.ingest(batch)
        expected += uninterrupted.process(result.accepted, result.positions).alerts
        if number % 3 == 2:  # a restart every few batches, sometimes mid-reference
            restarted.forget()
        for key in restarted.unloaded(result.accepted):
            if "snapshot" in stored:
                restarted.adopt(
                    key,
                    ModelMonitor.restore(
                        orjson.loads(stored["snapshot"]), registry.spec_for(*key), key[1], CONFIG,
                        profile=stored.get("profile"),
                        reference=stored["reference"],
                    ),
                )  # fmt: skip
        outcome = restarted.process(result.accepted, result.positions)
        got += outcome.alerts
        if lose_every is not None and number % lose_every == 1:
            stored = {"reference": []}
            for monitor in restarted.monitors.values():
                monitor.mark_unsaved()
        for key in outcome.touched:
            monitor = restarted.monitors[key]
            stored["snapshot"] = orjson.dumps(monitor.snapshot())  # must be JSON-serialisable
            stored["reference"] += monitor.take_new_reference()
            stored["profile"] = monitor.take_new_profile() or stored.get("profile")
    assert expected, "the drift must raise alerts for the comparison to mean anything"
    assert {a.status for a in expected} == {"firing", "resolved"}
    return as_json(expected), as_json(got)


def test_restore_of_snapshot_continues_identically():
    expected, got = through_storage()
    assert got == expected


def test_storage_that_lost_everything_gets_it_all_again_from_monitors_marked_unsaved():
    # Every fourth batch from the second: mid-reference first (its chunks are written
    # again, all of them), then with the profile built (written again).
    expected, got = through_storage(lose_every=4)
    assert got == expected


def test_a_version_2_state_is_read_and_goes_on_as_if_never_stopped():
    # Written by the monitor before the detector registry (state version 2), 7 batches in.
    stored = orjson.loads((Path(__file__).parent / "data" / "monitor_state_v2.json").read_bytes())
    assert stored["snapshot"]["version"] == 2
    registry = SpecRegistry(warmup_events=100)
    ingestor, uninterrupted = Ingestor(EventDecoder(), registry), Monitor(registry, BEFORE_CUSUM)
    later, expected, at_cut = [], [], None
    for number, batch in enumerate(batches(9_000)):
        result = ingestor.ingest(batch)
        outcome = uninterrupted.process(result.accepted, result.positions)
        if number == stored["batches_applied"] - 1:
            (key,) = outcome.touched
            at_cut = orjson.loads(orjson.dumps(uninterrupted.monitors[key].snapshot()))
        elif number >= stored["batches_applied"]:
            later.append(result)
            expected += outcome.alerts
    restored = ModelMonitor.restore(
        stored["snapshot"], ModelSpec.from_dict(stored["spec"]), stored["model_version"],
        BEFORE_CUSUM, profile=stored["profile"], reference=[],
    )  # fmt: skip
    assert restored.snapshot() | dict.fromkeys(EXPLAINING) == at_cut | dict.fromkeys(EXPLAINING)
    got = [a for r in later for a in restored.process(r.accepted, r.positions).alerts]
    # The drift episode open at the cut resolves after it: the restored rules carry it.
    assert "resolved" in {a.status for a in expected}
    assert unexplained(got) == unexplained(expected)
