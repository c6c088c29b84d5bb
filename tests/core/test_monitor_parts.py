"""The parts a model version's monitor keeps between windows: its alert episodes and the
tail of events its alerts sample."""

from __future__ import annotations

import orjson
import pytest

from streams.core.alerts.alert_rule import AlertRule
from streams.core.contract.event import PredictionEvent
from streams.core.drift.episodes import Episodes
from streams.core.drift.sampled import SampleTail
from streams.core.errors import InvalidState

RULE = AlertRule(resolve_ratio=0.5, resolve_windows=2, cooldown_windows=1)
KEY = ("numeric", "x0", "psi")


def event(number: int) -> PredictionEvent:
    return PredictionEvent(
        event_id=f"e{number}", model_id="m", model_version="v1", timestamp_ms=1_000 + number,
        features={"x0": float(number), "secret": "s"}, prediction="1", score=0.5,
        latency_ms=None, attributes={}, trace_id=None,
    )  # fmt: skip


def test_an_episode_is_named_by_the_window_it_fired_in_until_it_resolves() -> None:
    episodes = Episodes()
    assert episodes.judge(RULE, KEY, 3, value=0.1, threshold=0.2) == (None, None)
    assert not episodes.firing(*KEY)
    assert episodes.judge(RULE, KEY, 4, value=0.5, threshold=0.2) == ("fire", 4)
    assert episodes.firing(*KEY) and episodes.firing_since(*KEY) == 4
    assert episodes.judge(RULE, KEY, 5, value=0.05, threshold=0.2) == (None, 4)
    assert episodes.judge(RULE, KEY, 6, value=0.05, threshold=0.2) == ("resolve", 4)
    assert episodes.firing_since(*KEY) is None
    # Cooling down for a window: over the threshold, and still no new episode.
    assert episodes.judge(RULE, KEY, 7, value=0.5, threshold=0.2) == (None, None)
    assert episodes.judge(RULE, KEY, 8, value=0.5, threshold=0.2) == ("fire", 8)
    assert not episodes.firing("numeric", "x1", "psi")


def test_episodes_restored_from_json_go_on_where_they_were() -> None:
    episodes = Episodes()
    episodes.judge(RULE, KEY, 4, value=0.5, threshold=0.2)
    episodes.judge(RULE, ("model", None, "anomaly"), 4, value=0.1, threshold=0.2)
    restored = Episodes.restore(orjson.loads(orjson.dumps(episodes.snapshot())))
    assert restored.snapshot() == episodes.snapshot()
    assert restored.judge(RULE, KEY, 5, value=0.05, threshold=0.2) == (None, 4)


@pytest.mark.parametrize("stored", [{"x": 1}, [["numeric", "x0", "psi"]], [[1, "x0", "psi", {}]]])
def test_malformed_episodes_are_refused(stored: object) -> None:
    with pytest.raises(InvalidState):
        Episodes.restore(stored)


def test_the_tail_keeps_the_newest_events_redacted_and_samples_the_newest() -> None:
    tail = SampleTail(keep=3)
    tail.add([event(n) for n in range(5)], [(2, 100 + n) for n in range(5)],
             lambda features: {k: v for k, v in features.items() if k != "secret"})  # fmt: skip
    tail.add([event(5)], [(2, 105)], dict)
    assert len(tail) == 3
    assert (tail.last.event_id, tail.last.partition, tail.last.offset) == ("e5", 2, 105)
    assert [s["event_id"] for s in tail.sample(2)] == ["e4", "e5"]
    assert tail.sample(2)[0]["features"] == {"x0": 4.0}
    assert [s["event_id"] for s in tail.sample(10)] == ["e3", "e4", "e5"]
    assert tail.sample(0) == []


def test_a_tail_keeps_one_event_for_the_trigger_even_with_no_sample() -> None:
    tail = SampleTail(keep=0)
    tail.add([event(1), event(2)], [(0, 1), (0, 2)], dict)
    assert tail.last.event_id == "e2" and len(tail) == 1 and tail.sample(0) == []


def test_a_restored_tail_is_the_stored_one_and_holds_no_more_than_it_keeps() -> None:
    tail = SampleTail(keep=2)
    tail.add([event(1), event(2)], [(0, 1), (0, 2)], dict)
    stored = orjson.loads(orjson.dumps(tail.snapshot()))
    assert SampleTail.restore(stored, keep=2).snapshot() == tail.snapshot()
    with pytest.raises(InvalidState):
        SampleTail.restore(stored, keep=1)
