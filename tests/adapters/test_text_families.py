"""The text families write what ``generate_latest`` would write from their ``collect()``."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from streams.adapters.prometheus.batch_histogram import BatchHistogram
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.prometheus.stream_metrics import add_process_collectors
from streams.adapters.prometheus.text_families import MetricsRegistry, TextGauge
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records

ODD_VALUES = ["plain", 'a"quote', "back\\slash", "new\nline", "ünï", "", 'end\\"']
NUMBERS = [0.0, -0.0, 1, 0.1, -2.5, 1234567.0, 1e22, 3e-9, math.inf, -math.inf, math.nan]


def _blocks(page: bytes) -> dict[str, list[str]]:
    """Each family's lines (``# HELP`` first), by family name: order between families is
    free in the text format, order within one is not."""
    blocks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in page.decode().splitlines():
        if line.startswith("# HELP "):
            current = blocks.setdefault(line.split()[2], [])
        current.append(line)
    return blocks


def _worker_page() -> tuple[MetricsRegistry, IngestMetrics, Monitor]:
    """A registry as the worker builds it, after two models' streams, one drifting."""
    registry = MetricsRegistry()
    add_process_collectors(registry)
    metrics = IngestMetrics(registry)
    specs = SpecRegistry(warmup_events=100)
    ingestor = Ingestor(EventDecoder(), specs)
    monitor = Monitor(specs, MonitorConfig(window_events=300, reference_events=600))
    drift = Scenario(kind="abrupt", feature="x0", start=1_200, magnitude=3.0)
    for stream in (StreamConfig(model_id="m", seed=1, scenarios=(drift,)),
                   StreamConfig(model_id="m-2.b", seed=2)):  # fmt: skip
        for chunk in generate_events(stream, 2_000):
            result = ingestor.ingest(raw_records(stream, chunk))
            outcome = monitor.process(result.accepted, result.positions)
            metrics.observe_batch(result, seconds=0.01)
            metrics.observe_monitors(monitor, outcome)
            metrics.observe_events(result.accepted, outcome.columns, monitor, now=1e9)
    return registry, metrics, monitor


def test_the_worker_page_has_every_family_generate_latest_writes_line_for_line():
    registry, metrics, _ = _worker_page()
    ours, theirs = _blocks(registry.render()), _blocks(generate_latest(registry))
    assert ours.keys() == theirs.keys()
    # The process family's values move between two reads; the rest must be equal.
    moving = {name for name in ours if name.startswith("process_")}
    assert {name: ours[name] for name in ours.keys() - moving} == {
        name: theirs[name] for name in theirs.keys() - moving
    }
    for name in ("driftline_feature_stat", "driftline_window_statistic"):
        assert len(ours[name]) > 100, f"{name}: the streams should have filled it"
    metrics.forget_models(["m", "m-2.b"])  # their window summaries leave the page
    assert (
        _blocks(registry.render())["driftline_feature_stat"] == theirs["driftline_feature_stat"][:2]
    )


def test_a_text_gauge_writes_the_bytes_prometheus_clients_gauge_writes():
    ours, theirs = MetricsRegistry(), CollectorRegistry()
    text = TextGauge("x_stat", 'Odd "help"\\ with\na newline.', ["model", "feature"], ours)
    gauge = Gauge("x_stat", 'Odd "help"\\ with\na newline.', ["model", "feature"],
                  registry=theirs)  # fmt: skip
    assert ours.render() == generate_latest(theirs), "no series yet: the header alone"
    for i, (label, number) in enumerate(zip(ODD_VALUES * 2, NUMBERS * 2, strict=False)):
        labels = (label, f"f{i % 3}")
        text.set(labels, number)
        gauge.labels(*labels).set(number)
    text.set(("plain", "f0"), 7.0)  # an update keeps the series' place
    gauge.labels("plain", "f0").set(7.0)
    text.remove(('a"quote', "f1"))
    gauge.remove('a"quote', "f1")
    text.set(('a"quote', "f1"), 2.0)  # back, at the end
    gauge.labels('a"quote', "f1").set(2.0)
    assert ours.render() == generate_latest(theirs)
    assert generate_latest(ours) == generate_latest(theirs), "collect() agrees too"


def test_text_families_refuse_what_the_text_format_would_need_to_escape_or_clash():
    with pytest.raises(ValueError, match="metric name"):
        TextGauge("x-y", "X.", ["model"])
    with pytest.raises(ValueError, match="label names"):
        TextGauge("x", "X.", ["model-id"])
    with pytest.raises(ValueError, match="label values"):
        TextGauge("x", "X.", ["model"]).set(("a", "b"), 1.0)
    registry = MetricsRegistry()
    TextGauge("x", "X.", ["model"], registry)
    with pytest.raises(ValueError, match="Duplicated"):
        Gauge("x", "X.", ["model"], registry=registry)


@pytest.mark.parametrize("labelnames", [(), ("model",), ("type", "model", "version")])
@pytest.mark.parametrize("first_bound", [-1.0, 0.0, 0.5])
def test_a_batch_histogram_writes_what_generate_latest_writes_from_its_samples(
    labelnames, first_bound
):
    # HistogramMetricFamily leaves out _count and _sum beside a negative bucket.
    histogram = BatchHistogram("x_seconds", "X.", labelnames,
                               buckets=(first_bound, 2.0, 1e7))  # fmt: skip
    ours, theirs = MetricsRegistry(), CollectorRegistry()
    ours.register(histogram)
    theirs.register(histogram)
    values = np.array([-3.0, 0.0, 0.5, 2.0, 2.5, 1e8, np.nan])
    for i, label in enumerate(ODD_VALUES):  # the last: counts past 1e6, in Go's exponent form
        histogram.observe(tuple(f"{label}{i}{n}" for n in labelnames), np.repeat(values, 10**i))
    histogram.remove_where(lambda labels: bool(labels) and labels[0].startswith("plain"))
    assert ours.render() == generate_latest(theirs)


def test_a_labelless_text_gauge_writes_a_bare_name():
    ours, theirs = MetricsRegistry(), CollectorRegistry()
    TextGauge("x_up", "X.", [], ours).set((), 1)
    Gauge("x_up", "X.", registry=theirs).set(1)
    assert ours.render() == generate_latest(theirs)


def test_an_unregistered_family_leaves_the_page():
    registry = MetricsRegistry()
    text = TextGauge("x_text", "X.", ["model"], registry)
    gauge = Gauge("x_formatted", "X.", ["model"], registry=registry)
    text.set(("m",), 1.0)
    gauge.labels("m").set(2.0)
    assert _blocks(registry.render()).keys() == {"x_text", "x_formatted"}
    registry.unregister(text)
    registry.unregister(gauge)
    assert registry.render() == b""


def _without_process_families(page: bytes) -> dict[str, list[str]]:
    return {name: lines for name, lines in _blocks(page).items() if not name.startswith("process_")}


def test_the_page_served_in_parts_is_the_page():
    registry, _, _ = _worker_page()
    served = asyncio.run(registry.render_async(slice_s=0.0))
    assert _without_process_families(served) == _without_process_families(registry.render())


def test_series_set_and_removed_while_the_page_is_served_leave_it_whole():
    # The page is written in parts, the event loop running between them: the batches it
    # runs meanwhile set and remove series. (Iterating the families' own dicts across the
    # pauses raised "dictionary changed size during iteration".)
    registry = MetricsRegistry()
    gauge = TextGauge("x_value", "X.", ["model"], registry)
    histogram = BatchHistogram("x_seconds", "X.", ["model"], buckets=(0.5, 2.0))
    registry.register(histogram)
    for i in range(5_000):
        gauge.set((f"m{i}",), i)
        histogram.observe((f"m{i % 50}",), np.array([0.1, 1.0, 3.0]))
    turns = 0

    async def batches() -> None:
        nonlocal turns
        while True:
            gauge.set((f"new{turns}",), turns)
            gauge.remove((f"m{turns}",))
            histogram.observe((f"new{turns}",), np.array([1.0]))
            histogram.remove_where((f"m{turns % 50}",).__eq__)
            turns += 1
            await asyncio.sleep(0)

    async def scrape() -> bytes:
        running = asyncio.create_task(batches())
        try:
            return await registry.render_async(slice_s=0.0)
        finally:
            running.cancel()

    page = asyncio.run(scrape()).decode().splitlines()
    assert turns >= 5, "the loop never ran while the page was written"
    samples = [line for line in page if not line.startswith("#")]
    assert all(line.count(" ") == 1 and line.startswith("x_") for line in samples)
    # Every series the page started from, less those removed meanwhile, at most.
    assert 5_000 - turns <= sum(line.startswith('x_value{model="m') for line in samples) <= 5_000
