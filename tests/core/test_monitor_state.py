"""A monitor restored from its snapshot goes on exactly as one that never stopped."""

from __future__ import annotations

import orjson

from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records

CONFIG = MonitorConfig(window_events=500, reference_events=2000)


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


def test_restore_of_snapshot_continues_identically():
    registry = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), registry)
    uninterrupted, restarted = Monitor(registry, CONFIG), Monitor(registry, CONFIG)
    stored: dict = {"reference": []}
    expected, got = [], []
    for number, batch in enumerate(batches(9_000)):
        result = ingestor.ingest(batch)
        expected += uninterrupted.process(result.accepted, result.positions).alerts
        if number % 3 == 2:  # a restart every few batches, sometimes mid-reference
            restarted.forget()
        for key in restarted.unloaded(result.accepted):
            if "snapshot" in stored:
                restarted.adopt(
                    key,
                    ModelMonitor.restore(
                        registry.spec_for(*key), key[1], CONFIG,
                        snapshot=orjson.loads(stored["snapshot"]),
                        profile=stored.get("profile"),
                        reference=stored["reference"],
                    ),
                )  # fmt: skip
        outcome = restarted.process(result.accepted, result.positions)
        got += outcome.alerts
        for key in outcome.touched:
            monitor = restarted.monitors[key]
            stored["snapshot"] = orjson.dumps(monitor.snapshot())  # must be JSON-serialisable
            stored["reference"] += monitor.take_new_reference()
            stored["profile"] = monitor.take_new_profile() or stored.get("profile")
    assert expected, "the drift must raise alerts for the comparison to mean anything"
    assert {a.status for a in expected} == {"firing", "resolved"}
    assert as_json(got) == as_json(expected)
