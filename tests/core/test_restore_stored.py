"""``Monitor.restore_stored``: the drift side adopts a version's stored state in one call."""

from __future__ import annotations

import orjson
import pytest

from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.monitor import Monitor
from streams.core.errors import InvalidState
from tests.core.test_monitor_state import CONFIG, as_json, batches


def test_restore_stored_continues_identically():
    registry = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), registry)
    uninterrupted, restarted = Monitor(registry, CONFIG), Monitor(registry, CONFIG)
    stored: dict = {"snapshot": None, "profile": None, "reference": []}
    expected, got = [], []
    for number, batch in enumerate(batches(9_000)):
        result = ingestor.ingest(batch)
        expected += uninterrupted.process(result.accepted, result.positions).alerts
        if number % 3 == 2:
            restarted.forget()
        for key in restarted.unloaded(result.accepted):
            if stored["snapshot"] is not None:
                snapshot = orjson.loads(stored["snapshot"])
                restored = restarted.restore_stored(key, snapshot=snapshot,
                                                    profile=stored["profile"],
                                                    reference=stored["reference"])  # fmt: skip
                assert restarted.monitors[key] is restored
        outcome = restarted.process(result.accepted, result.positions)
        got += outcome.alerts
        for key in outcome.touched:
            monitor = restarted.monitors[key]
            stored["snapshot"] = orjson.dumps(monitor.snapshot())
            stored["reference"] += monitor.take_new_reference()
            stored["profile"] = monitor.take_new_profile() or stored["profile"]
    assert expected and as_json(got) == as_json(expected)


def test_a_profile_alone_starts_a_monitor_on_it_and_malformed_state_adopts_nothing():
    registry = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), registry)
    source = Monitor(registry, CONFIG)
    for batch in batches(3_000):
        result = ingestor.ingest(batch)
        source.process(result.accepted, result.positions)
    (key,) = source.monitors
    profile = source.monitors[key].take_new_profile()
    assert profile is not None
    fresh = Monitor(registry, CONFIG)
    with pytest.raises(InvalidState):
        fresh.restore_stored(key, snapshot=None, profile={"bins": "x"}, reference=[])
    with pytest.raises(InvalidState):
        fresh.restore_stored(key, snapshot={"version": -1}, profile=profile, reference=[])
    assert fresh.monitors == {}
    restored = fresh.restore_stored(key, snapshot=None, profile=profile, reference=[])
    assert restored is not None and fresh.monitors == {key: restored}
    assert fresh.restore_stored(("nobody", "v1"), snapshot=None, profile=None, reference=[]) is None
