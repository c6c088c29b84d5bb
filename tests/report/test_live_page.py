"""The live page model: a monitor fed a drifting stream in memory, looked at mid-window."""

from __future__ import annotations

import math

import orjson
import pytest

from streams.adapters.files.report.live import LivePage, live_page
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import ModelMonitor, MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records

WARMUP, REFERENCE, WINDOW = 200, 2_000, 500
# The warm-up's events are monitored too, once the spec is inferred from them.
DRIFT_AT = REFERENCE + 1_000
# Stops 300 events into a window, well after the drift began: an open episode, a window open.
EVENTS = DRIFT_AT + 4 * WINDOW + 300
STREAM = StreamConfig(
    seed=5, scenarios=(Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0),)
)


def fed_monitor(stream: StreamConfig, count: int) -> ModelMonitor:
    registry = SpecRegistry(warmup_events=WARMUP)
    config = MonitorConfig(window_events=WINDOW, reference_events=REFERENCE)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, config)
    for chunk in generate_events(stream, count):
        result = ingestor.ingest(raw_records(stream, chunk))
        monitor.process(result.accepted, result.positions)
    (version,) = monitor.monitors.values()
    return version


@pytest.fixture(scope="module")
def drifting() -> ModelMonitor:
    return fed_monitor(STREAM, EVENTS)


def drift_rule(page: LivePage, column: str):
    (live,) = [c for c in page.live if c.section.name == column]
    (rule,) = [j for j in live.judgements if j.rule == "drift"]
    return live, rule


def test_the_drifted_feature_fires_and_a_clean_one_does_not(drifting):
    page = live_page(drifting)
    assert page is not None
    assert page.window.events == 300
    assert page.window.index == (EVENTS - REFERENCE) // WINDOW
    drifted, rule = drift_rule(page, "x7")
    assert drifted.firing and rule.over
    assert 0 < rule.firing_since < page.window.index
    assert page.live[0] is drifted  # the most troubled column comes first
    assert [(j.column, j.rule) for j in page.firing] == [("x7", "drift")]
    clean, rule = drift_rule(page, "x0")
    assert not clean.firing and not rule.over and rule.firing_since is None


def test_the_histogram_and_quality_are_the_open_windows(drifting):
    page = live_page(drifting)
    assert page is not None
    counts = page.window.bin_counts["x7"]
    assert sum(counts) == page.window.events
    histogram = page.columns[0].histogram
    assert len(histogram.monitored) == len(histogram.reference) == len(counts)
    assert math.isclose(sum(histogram.monitored), 1.0)
    # Shifted up by one sigma: the top reference bins hold far more than their share.
    assert histogram.monitored[-1] > 2 * histogram.reference[-1]
    quality = page.columns[0].quality
    assert quality.count == page.window.events
    assert quality.missing == 0.0 and quality.out_of_range is not None


def test_looking_changes_nothing(drifting):
    before = orjson.dumps(drifting.snapshot())
    live_page(drifting)
    live_page(drifting)
    assert orjson.dumps(drifting.snapshot()) == before


def test_no_page_while_the_reference_is_learned():
    assert live_page(fed_monitor(STREAM, REFERENCE // 2)) is None
