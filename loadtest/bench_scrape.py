"""What rendering /metrics costs a worker holding ``--models`` model versions.

Feeds ``--models`` simulated streams (20 numeric + 4 categorical features, drift in every
third one) through the core and the worker's metrics, as a worker holding them would, then
times one page rendered two ways on the same registry: ``generate_latest`` formatting every
family (the worker's page before the text families) and ``MetricsRegistry.render`` (today's).
Prints the lines, the bytes and the best of ``--repeat`` CPU ms of each, then the longest
the event loop waited for a turn while ``render_async`` (what the worker serves) wrote it.

Run: .venv/bin/python -m loadtest.bench_scrape [--models 40] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

from prometheus_client import generate_latest

from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.prometheus.stream_metrics import add_process_collectors
from streams.adapters.prometheus.text_families import MetricsRegistry
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.simulation import Scenario, StreamConfig, generate_events, raw_records


def worker_registry(models: int) -> MetricsRegistry:
    """The metrics of a worker that took 2,000 events of each of ``models`` versions."""
    registry = MetricsRegistry()
    add_process_collectors(registry)
    metrics = IngestMetrics(registry, max_statistic_series=1_000_000)
    specs = SpecRegistry(warmup_events=100, max_models=models + 1)
    ingestor = Ingestor(EventDecoder(), specs)
    monitor = Monitor(specs, MonitorConfig(window_events=500, reference_events=1000))
    drift = (Scenario(kind="abrupt", feature="x0", start=1_500, magnitude=3.0),)
    for index in range(models):
        stream = StreamConfig(model_id=f"m{index}", seed=index,
                              scenarios=drift if index % 3 == 0 else ())  # fmt: skip
        for chunk in generate_events(stream, 2_000):
            result = ingestor.ingest(raw_records(stream, chunk))
            outcome = monitor.process(result.accepted, result.positions)
            metrics.observe_batch(result, seconds=0.01)
            metrics.observe_monitors(monitor, outcome)
            metrics.observe_events(result.accepted, outcome.columns, monitor, now=time.time())
    return registry


def best_cpu_ms(render: Callable[[], bytes], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.process_time()
        render()
        timings.append(time.process_time() - started)
    return min(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    registry = worker_registry(args.models)
    page = registry.render()
    if sorted(page.splitlines()) != sorted(generate_latest(registry).splitlines()):
        # Only the process family's values may move between the two reads.
        moved = set(page.splitlines()) ^ set(generate_latest(registry).splitlines())
        assert all(line.startswith(b"process_") for line in moved), "the pages differ"
    print(f"{args.models} model versions: {len(page.splitlines())} lines, {len(page)} bytes")
    for name, render in (("generate_latest", lambda: generate_latest(registry)),
                         ("MetricsRegistry.render", registry.render)):  # fmt: skip
        print(f"  {name}: {best_cpu_ms(render, args.repeat):.1f} ms CPU (best of {args.repeat})")
    pauses = [asyncio.run(longest_pause_ms(registry)) for _ in range(args.repeat)]
    print(
        f"  MetricsRegistry.render_async: the event loop waited at most {min(pauses):.1f} ms "
        f"at a time (best of {args.repeat}; render holds it for the whole page)"
    )


async def longest_pause_ms(registry: MetricsRegistry) -> float:
    """The longest the event loop waited for its next turn while the page was served."""
    longest, last = 0.0, time.perf_counter()

    async def ticks() -> None:
        nonlocal longest, last
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    ticking = asyncio.create_task(ticks())
    await asyncio.sleep(0)
    last = time.perf_counter()
    await registry.render_async()
    ticking.cancel()
    return longest * 1000


if __name__ == "__main__":
    main()
