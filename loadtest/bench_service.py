"""CPU per event of the worker's monitoring step against the real Redis, without Kafka.

``IngestionService.process`` as the worker runs it (fences read, events decoded and checked,
monitors and canaries fed, state saved with its fence, the round trips to Redis), over ``--models``
simulated models' events interleaved as one by-model partition holds them, in batches of
``--batch``. Alerts go to a ``MemoryAlertSink``; every event is valid, so nothing is
dead-lettered. Before it reports, the service's own metrics must show the work done
(``loadtest/work_done.py``: every event accepted, each reference built, the windows due
closed), as every harness here checks. What it leaves out: Kafka, Faust's consumer and the
routing stage (``loadtest/run.py`` has the whole worker).

For an A/B of two trees, run this file from one checkout over the other's package:
``PYTHONPATH=<tree> .venv/bin/python loadtest/bench_service.py``, alternating.

Run: .venv/bin/python -m loadtest.bench_service [--models 50] [--events-per-model 4000]
(on the local stack's Redis, started if it is not running).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import time

import faust
from prometheus_client import CollectorRegistry

from loadtest.work_done import Plan, from_metrics
from streams import stack
from streams.adapters.faust.health import StreamLiveness
from streams.adapters.faust.ingestion import IngestionService
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.client import connect
from streams.adapters.redis.rollout_store import RedisRolloutStore
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core import EventDecoder, Ingestor, RawRecord, SpecRegistry
from streams.core.alerts.sink import MemoryAlertSink
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.core.rollout.canary import CanaryConfig
from streams.core.rollout.rollouts import Rollouts
from streams.simulation import StreamConfig, generate_events, raw_records

WARMUP, REFERENCE, WINDOW = 50, 2000, 1000


def plan(models: int, per_model: int) -> Plan:
    """What ``interleaved(models, per_model)`` must make the monitors do."""
    return Plan({_model(i): per_model for i in range(models)}, warmup_events=WARMUP,
                reference_events=REFERENCE, window_events=WINDOW)  # fmt: skip


def _model(i: int) -> str:
    return f"bench-{i}"


def interleaved(models: int, per_model: int) -> list[RawRecord]:
    """Each model's events in turn, at consecutive offsets of partition 0."""
    streams = [StreamConfig(model_id=_model(i), seed=i) for i in range(models)]
    each = [[r for c in generate_events(s, per_model) for r in raw_records(s, c)] for s in streams]
    mixed = [r for turn in itertools.zip_longest(*each) for r in turn if r is not None]
    return [RawRecord(r.value, 0, "bench", 0, offset) for offset, r in enumerate(mixed)]


async def cpu_per_event(url: str, records: list[RawRecord], batch: int, work: Plan) -> float:
    """CPU microseconds per record of ``IngestionService.process`` over ``records``;
    ``WorkNotDone`` if its metrics fall short of ``work``."""
    client = connect(url, socket_timeout=5)
    prefix = f"bench-service-{time.monotonic_ns()}"
    registry = SpecRegistry(warmup_events=WARMUP)
    exported = CollectorRegistry()
    service = IngestionService(
        ingestor=Ingestor(EventDecoder(), registry),
        monitor=Monitor(
            registry,
            MonitorConfig(window_events=WINDOW, reference_events=REFERENCE),
            rollouts=Rollouts(CanaryConfig()),
        ),
        store=RedisMonitorStore(client, prefix=prefix, topic="bench", ttl_s=600),
        # Never written: every event is valid.
        dead_letters=faust.App("bench-service", broker="kafka://127.0.0.1:1").topic("unused"),
        sink=MemoryAlertSink(),
        metrics=IngestMetrics(exported),
        liveness=StreamLiveness(),
        rollout_store=RedisRolloutStore(client, prefix=prefix),  # every worker has both
    )
    try:
        started = time.process_time()
        for first in range(0, len(records), batch):
            await service.process(records[first : first + batch])
        cost = (time.process_time() - started) / len(records) * 1e6
    finally:
        async for key in client.scan_iter(f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()
    samples = {(s.name, tuple(s.labels.items())): s.value
               for family in exported.collect() for s in family.samples}  # fmt: skip
    from_metrics(samples).check(work, "bench_service")
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--events-per-model", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=3000)
    args = parser.parse_args()
    records = interleaved(args.models, args.events_per_model)
    work = plan(args.models, args.events_per_model)
    config = stack.StackConfig.from_env(os.environ)
    stack.up(config, log=lambda line: None)
    cost = asyncio.run(cpu_per_event(config.redis_url, records, args.batch, work))
    print(f"{args.models} models x {args.events_per_model:,} events: {cost:.2f} us CPU per event")


if __name__ == "__main__":
    main()
