"""``ModelMonitor.open_window``: the open window judged as if it closed now, read only."""

from __future__ import annotations

from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records

CONFIG = MonitorConfig(window_events=500, reference_events=2_000)
STREAM = StreamConfig(
    seed=8, scenarios=(Scenario(kind="abrupt", feature="x3", start=3_000, magnitude=1.0),)
)


def run(count: int, *, look: bool) -> tuple[list, Monitor]:
    """Alerts of ``count`` events fed in chunks; ``look``: open_window read after each."""
    registry = SpecRegistry(warmup_events=100)
    ingestor, monitor = Ingestor(EventDecoder(), registry), Monitor(registry, CONFIG)
    alerts = []
    for chunk in generate_events(STREAM, count):
        result = ingestor.ingest(raw_records(STREAM, chunk))
        alerts.extend(monitor.process(result.accepted, result.positions).alerts)
        if look:
            for version in monitor.monitors.values():
                version.open_window()
    return alerts, monitor


def test_looking_at_every_batch_changes_no_alert():
    looked, _ = run(8_000, look=True)
    unlooked, _ = run(8_000, look=False)
    assert [a.alert_id for a in looked] == [a.alert_id for a in unlooked]
    assert any(a.feature == "x3" for a in looked)


def test_the_open_window_counts_and_episodes():
    _, monitor = run(5_300, look=False)
    (version,) = monitor.monitors.values()
    window = version.open_window()
    assert window is not None
    assert (window.index, window.events) == (6, 300)
    firing = {
        (j.column, j.rule): j.firing_since
        for j in window.judgements
        if j.firing_since is not None and j.kind == "feature"  # the score moves with x3 too
    }
    assert list(firing) == [("x3", "drift")] and 2 <= firing["x3", "drift"] < 6
    assert sum(window.bin_counts["x3"]) == 300
