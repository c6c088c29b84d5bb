"""Two workers applying one model's records at once, against the real Redis: a worker paused
past a rebalance (a zombie) wakes with a batch in hand while the partition's new owner
applies the same records from the last commit.

Each save expects the token of the save its state was built on; one built on an older save
is refused, and the worker rebuilds it from Redis, applying only what the other did not.
What must hold in every interleaving: the stored state took each event once, and the two
workers' ``driftline_events_processed_total`` add up to the events, exactly (CI's chaos
suite once counted 2,728 events twice: a refused batch was counted, and a save that
overlapped the other's passed). Found by ``paused_worker`` (loadtest/chaos_scenarios.py);
these drive the interleavings it can only hit by chance.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import faust
import orjson
import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from loadtest.chaos_stream import state_totals
from streams.adapters.faust.health import StreamLiveness
from streams.adapters.faust.ingestion import IngestionService
from streams.adapters.faust.labels import LabelService
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.label_join import RedisLabelJoin
from streams.adapters.redis.state_store import RedisMonitorStore
from streams.core import EventDecoder, Ingestor, SpecRegistry
from streams.core.alerts.sink import MemoryAlertSink
from streams.core.contract.decoder import LabelDecoder
from streams.core.contract.event import RawRecord
from streams.core.drift.model_monitor import MonitorConfig
from streams.core.drift.monitor import Monitor
from streams.core.labels.performance_monitor import PerformanceConfig
from streams.simulation import (
    Scenario,
    StreamConfig,
    generate_events,
    keyed_labels,
    raw_records,
)

pytestmark = pytest.mark.integration

WINDOW, REFERENCE = 50, 100
#: Drift early, so windows after the reference raise alerts to compare.
STREAMS = {
    model: StreamConfig(
        model_id=model,
        seed=seed,
        scenarios=(Scenario(kind="abrupt", feature="x1", start=130, magnitude=2.0),),
    )
    for model, seed in (("m", 3), ("n", 4))
}
EVENTS = 300


def records_of(model: str, partition: int) -> list[RawRecord]:
    stream = STREAMS[model]
    chunks = generate_events(stream, EVENTS)
    return [r for chunk in chunks for r in raw_records(stream, chunk, partition=partition)]


M, N = records_of("m", 0), records_of("n", 1)


def specs() -> list:
    """Both workers' specs, inferred once (as the spec store would share them)."""
    registry = SpecRegistry(warmup_events=50)
    ingestor = Ingestor(EventDecoder(), registry)
    ingestor.ingest(M[:50] + N[:50])
    return [registry.spec_for(model, "v1") for model in STREAMS]


class Crashed(Exception):
    pass


class CrashingIngestion(IngestionService):
    """Dies once a pass of it is refused, before it applies the events again: as a worker
    SIGKILLed there would (its batch uncommitted, read again by the next owner)."""

    async def _monitor_once(self, *args, **kwargs) -> set[str]:
        refused = await super()._monitor_once(*args, **kwargs)
        if refused:
            raise Crashed
        return refused


class Worker:
    """An ``IngestionService`` as a worker builds it, on its own metrics and alert sink."""

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        dead_letters: faust.TopicT,
        crashing=False,
        known: Sequence | None = None,
        max_versions=500,
    ) -> None:
        """``known``: the specs it starts with (``specs()``'s when None); ``max_versions``
        the monitors it may hold (``Monitor``'s)."""
        registry = SpecRegistry(specs() if known is None else known)
        self.metrics = IngestMetrics(CollectorRegistry())
        self.sink = MemoryAlertSink()
        self.service = (CrashingIngestion if crashing else IngestionService)(
            ingestor=Ingestor(EventDecoder(), registry),
            monitor=Monitor(
                registry,
                MonitorConfig(window_events=WINDOW, reference_events=REFERENCE),
                max_versions=max_versions,
            ),
            store=RedisMonitorStore(client, prefix=prefix, topic="predictions", ttl_s=600),
            dead_letters=dead_letters,
            sink=self.sink,
            metrics=self.metrics,
            liveness=StreamLiveness(),
        )

    def processed(self) -> float:
        return _total(self.metrics.events_processed)

    def refused(self) -> float:
        """Model states it rebuilt: another worker had saved them since it read them."""
        return _total(self.metrics.saves_refused)


def _total(counter) -> float:
    return sum(s.value for f in counter.collect() for s in f.samples if s.name.endswith("_total"))


def run_interleaving(
    stack_config, steps: Sequence[tuple[str, list[RawRecord]]], crashing=(), **options
):
    """Run ``steps`` ((worker name, batch) in order) on a worker per name (those named in
    ``crashing`` die at their first refused pass; ``options`` are every ``Worker``'s),
    then a crash-free reference run of every record on one worker: the workers, the
    reference's, and the stored totals of both runs."""
    prefix, reference_prefix = (f"test-paused-{next(_RUNS)}-{kind}" for kind in "ar")
    app = faust.App("test-paused-writer", broker="kafka://127.0.0.1:1")
    dlq = app.topic("unused-dead-letters")  # every record here is valid

    async def go():
        client = aioredis.Redis.from_url(stack_config.redis_url)
        try:
            names = dict.fromkeys(name for name, _ in steps)
            workers = {n: Worker(client, prefix, dlq, crashing=n in crashing, **options)
                       for n in names}  # fmt: skip
            for name, batch in steps:
                with contextlib.suppress(Crashed):
                    await workers[name].service.process(batch)
            alone = Worker(client, reference_prefix, dlq, **options)
            every = sorted({(r.partition, r.offset): r for _, b in steps for r in b}.values(),
                           key=lambda r: (r.offset, r.partition))  # fmt: skip
            await alone.service.process(every)
            return workers, alone
        finally:
            await client.aclose()

    workers, alone = asyncio.run(go())
    sync = redis.Redis.from_url(stack_config.redis_url)
    try:
        totals = state_totals(sync, prefix, WINDOW)
        reference = state_totals(sync, reference_prefix, WINDOW)
    finally:
        for key in itertools.chain(sync.scan_iter(f"{prefix}:*"),
                                   sync.scan_iter(f"{reference_prefix}:*")):  # fmt: skip
            sync.delete(key)
        sync.close()
    return workers, alone, totals, reference


_RUNS = itertools.count()


def ids(*workers: Worker) -> set[str]:
    published = [alert.alert_id for worker in workers for alert in worker.sink.alerts]
    # A worker learns that its state is stale before its alerts leave: none twice. (Only
    # another save between that check and its own still sends some again.)
    assert len(published) == len(set(published)), "an alert published twice"
    return set(published)


def applied_once(stack_config, steps: Sequence[tuple[str, list[RawRecord]]], crashing=()) -> dict:
    """Run ``steps`` ((worker name, batch) in order) on a worker per name, and
    every record on one worker for reference; check that the state took each event once,
    the processed counts add up to the events, and the alert ids are the reference's, none
    published twice. Each worker's (processed, states rebuilt)."""
    workers, alone, totals, reference = run_interleaving(stack_config, steps, crashing)
    models = {orjson.loads(r.value)["model_id"] for _, batch in steps for r in batch}
    assert totals == reference == {f"{m}:v1": EVENTS for m in models}
    assert ids(*workers.values()) == ids(alone) != set()
    assert sum(worker.processed() for worker in workers.values()) == len(models) * EVENTS
    return {name: (worker.processed(), worker.refused()) for name, worker in workers.items()}


def test_the_zombie_wakes_after_the_owner_applied_past_its_batch(stack_config):
    # Before: the zombie's save was refused, but its batch was counted.
    counts = applied_once(stack_config, [
        ("zombie", M[:100]), ("owner", M[:200]), ("zombie", M[100:150]), ("owner", M[200:]),
    ])  # fmt: skip
    assert counts == {"zombie": (100, 1), "owner": (200, 0)}


def test_the_zombie_saves_first_and_the_owner_read_before_it(stack_config):
    # Before: both saves passed (each past the stored offset), and the 20 events both
    # applied were counted twice.
    counts = applied_once(stack_config, [
        ("zombie", M[:100]), ("owner", M[:120]), ("zombie", M[100:150]), ("owner", M[120:]),
    ])  # fmt: skip
    assert counts == {"zombie": (130, 1), "owner": (170, 1)}


def test_a_refusal_for_another_partitions_offsets_loses_nothing(stack_config):
    # Before: each model's fence holds every partition of the batches that touched it. The
    # zombie's save of m held partition 1 further than the owner's next batch, so the owner's
    # save of m was refused, though the zombie had applied m only to offset 119: the owner
    # acked m's records 120-149, and no one applied them (m's state held 270 of 300).
    both = sorted(M[:100] + N[:100], key=lambda r: (r.offset, r.partition))
    applied_once(stack_config, [
        ("zombie", both), ("owner", M[100:110] + N[100:110]),
        ("zombie", M[100:120] + N[100:200]), ("owner", M[110:150] + N[110:150]),
        ("owner", M[150:] + N[150:]),
    ])  # fmt: skip


def test_a_worker_killed_after_a_refused_pass_loses_nothing(stack_config):
    # Before: a state found stale before its alerts left was not sent to the save, which
    # then raised the low-water mark past its records; killed there, the zombie left them
    # to the next owner, which skipped them unread (m's state held 270 of 300).
    counts = applied_once(stack_config, [
        ("zombie", M[:100]), ("owner", M[:120]), ("zombie", M[100:150]),
        ("owner after a restart", M[120:]),
    ], crashing={"zombie"})  # fmt: skip
    assert counts["zombie"] == (100, 0)  # it died before counting the refusal


def test_two_owners_of_one_model_apply_each_event_once(stack_config):
    # DRIFTLINE_ROUTING=keyed with producers that do not key by model id: one model's events
    # on two partitions, each held by another worker. Each save finds the other's since its
    # read, so the states are rebuilt at every batch: slower, but no event is lost. (Before:
    # the last write won, and the other's events were lost.)
    halves = [[RawRecord(r.value, 0, r.source, p, i // 2) for i, r in enumerate(M) if i % 2 == p]
              for p in (0, 1)]  # fmt: skip
    steps = [(name, half[first : first + 50])
             for first in range(0, EVENTS // 2, 50)
             for name, half in zip(("a", "b"), halves, strict=True)]  # fmt: skip
    workers, _, totals, _ = run_interleaving(stack_config, steps)
    assert totals == {"m:v1": EVENTS}
    assert sum(worker.processed() for worker in workers.values()) == EVENTS
    # Every batch after the first of each worker met the other's save.
    assert sum(worker.refused() for worker in workers.values()) == len(steps) - 2


#: Small windows, so that 300 labels judge performance; every label wrong from 150 on.
LABELS = PerformanceConfig(window_labels=50, reference_labels=100, evaluate_every=25,
                           min_labels=25)  # fmt: skip
LABELS_WRONG_FROM = 150


def label_records() -> list[RawRecord]:
    stream, records = STREAMS["m"], []
    for chunk in generate_events(stream, EVENTS):
        right, wrong = keyed_labels(stream, chunk), keyed_labels(stream, chunk, flip_rate=1.0)
        for i in range(len(chunk)):
            offset = chunk.start + i
            value = (right if offset < LABELS_WRONG_FROM else wrong)[i][1]
            records.append(RawRecord(value, 0, "labels", 0, offset))
    return records


def on_redis(stack_config, name: str, body: Callable[[aioredis.Redis, str, faust.TopicT], Any]):
    """``body(client, prefix, dead letters)``'s result, on a key prefix of its own (its keys
    removed after) and a dead-letter topic nothing is sent to (every record is valid)."""
    prefix = f"test-{name}-{next(_RUNS)}"
    dlq = faust.App(f"test-{name}", broker="kafka://127.0.0.1:1").topic("unused")

    async def go():
        client = aioredis.Redis.from_url(stack_config.redis_url)
        try:
            return await body(client, prefix, dlq)
        finally:
            for key in await client.keys(f"{prefix}:*"):
                await client.delete(key)
            await client.aclose()

    return asyncio.run(go())


def judged_labels(stack_config, steps) -> tuple[int, list[str]]:
    """M's predictions kept, then ``steps`` ((service, labels) in order) on two label
    services sharing the join and the store: the labels the stored state has seen, and
    the ids of the alerts both published."""

    async def go(client, prefix, dlq) -> tuple[int, list[str]]:
        join = RedisLabelJoin(client, prefix=prefix)
        predictions = Worker(client, prefix, dlq)
        predictions.service.label_join = join
        await predictions.service.process(M)
        registry = SpecRegistry(specs())
        store = RedisMonitorStore(client, prefix=prefix, topic="labels", ttl_s=600,
                                  namespace="performance")  # fmt: skip
        sinks = [MemoryAlertSink(), MemoryAlertSink()]
        services = [
            LabelService(decoder=LabelDecoder(), join=join, registry=registry,
                         config=LABELS, store=store, dead_letters=dlq, sink=sink,
                         metrics=IngestMetrics(CollectorRegistry()))
            for sink in sinks
        ]  # fmt: skip
        for index, batch in steps:
            await services[index].process(batch)
        stored = await store.fetch("m", "v1")
        assert stored is not None
        published = [alert.alert_id for sink in sinks for alert in sink.alerts]
        return stored.parse().snapshot["counts"][0], published

    return on_redis(stack_config, "paused-labels", go)


def test_labels_a_refused_worker_joined_are_applied_again_not_lost(stack_config):
    # The join joins a label record read again again (a replay must not lose it), so both
    # workers join labels 100-119 and 120-149; each refused save is rebuilt on the other's
    # state, with only the labels the other did not apply, and a stale state's performance
    # alerts stay in. (The old code counted every label once here too: each save passed
    # over the other's, and each batch held every label since its base.)
    labels = label_records()
    seen, published = judged_labels(stack_config, [
        (0, labels[:100]), (1, labels[:120]), (0, labels[100:150]), (1, labels[120:]),
    ])  # fmt: skip
    reference_seen, reference = judged_labels(stack_config, [(0, labels)])
    assert seen == reference_seen == EVENTS
    assert len(published) == len(set(published)), "an alert published twice"
    assert set(published) == set(reference) != set()


def test_a_refused_pass_counts_no_unwatched_event_twice(stack_config):
    # Before: the events of m's version beyond the monitor cap were counted unwatched by the
    # zombie's refused pass, and again by the owner that applied them (175 for 150).
    def as_v2(record: RawRecord) -> RawRecord:
        event = orjson.loads(record.value)
        return replace(record, value=orjson.dumps({**event, "model_version": "v2"}))

    mixed = [as_v2(r) if i % 2 else r for i, r in enumerate(M)]
    steps = [("zombie", mixed[:100]), ("owner", mixed[:200]), ("zombie", mixed[100:150]),
             ("owner", mixed[200:])]  # fmt: skip
    versions = [spec for model in specs() for spec in (model, replace(model, model_version="v2"))]
    workers, _, totals, _ = run_interleaving(stack_config, steps, known=versions, max_versions=1)
    assert totals == {"m:v1": EVENTS // 2}
    unwatched = sum(_total(w.metrics.events_unwatched) for w in workers.values())
    assert unwatched == EVENTS // 2
