"""How a chaos scenario runs: the size of its stream, the workers started, the stream
published in parts around the fault, and the outcome judged against the reference run
(``loadtest/chaos.py`` says how). The scenarios are in ``chaos_scenarios.py``,
``chaos_redis.py`` and ``chaos_rollback.py``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtest.chaos_run import ChaosRun, wait_for
from loadtest.chaos_stream import ChaosStream, Outcome, Verdict
from streams import stack
from streams.adapters.kafka.roads import home_partition
from streams.core.errors import DriftlineError
from streams.stack.worker import WorkerProcess

__all__ = ["FAST_COMMITS", "FULL", "SHORT", "Context", "Fault", "Size",
           "every_worker_holds_partitions", "expect_said", "finish", "holding_most_models",
           "publish_records", "publish_up_to", "replace_worker", "run_stream",
           "wait_holding_every_partition"]  # fmt: skip


@dataclass(frozen=True)
class Size:
    """How big a run is: the full suite or CI's short form."""

    events: int
    reference_events: int
    window_events: int
    outage_s: float

    @property
    def stream(self) -> ChaosStream:
        return ChaosStream(self.events, self.reference_events, self.window_events)


FULL = Size(events=200_001, reference_events=5_000, window_events=2_000, outage_s=60)
SHORT = Size(events=21_000, reference_events=1_000, window_events=500, outage_s=10)

#: Commits every 0.2 s, so a worker killed a second after its records are applied has
#: committed them (past a copy of Redis taken before them, past a Redis that lost them).
FAST_COMMITS = {"DRIFTLINE_COMMIT_INTERVAL_S": "0.2"}


@dataclass
class Context:
    size: Size
    config: stack.StackConfig
    workdir: Path
    reference: Outcome | None = None
    models: frozenset[str] = frozenset()


Fault = Callable[[ChaosRun, list], float | None]


def run_stream(
    ctx: Context,
    name: str,
    fault: Fault,
    *,
    workers: int = 1,
    keyed: bool = True,
    extra_env: dict[str, str] | None = None,
    first: float = 0.5,
) -> tuple[ChaosRun, Verdict, Outcome]:
    """Start ``workers``, publish the stream (the ``first`` share of it before ``fault``
    acts: ``run.rest`` holds the rest), let ``fault`` act (it returns the time to resume,
    or None), wait until every record is applied; the run's outcome."""
    run = ChaosRun(name, ctx.size.stream, ctx.config, ctx.workdir, extra_env)
    verdict = Verdict(name)
    records, _ = run.stream.records(keyed=keyed)
    try:
        for _ in range(workers):
            run.start_worker()
        for worker in run.workers:
            worker.wait_for_partitions()
        published = int(len(records) * first)
        run.rest = records[published:]
        publish_records(run, records[:published])
        verdict.resume_s = fault(run, records)
        if run.rest:
            publish_records(run, run.rest)
        run.wait_done(timeout_s=600)
        outcome = run.outcome()
        verdict.events = run.published
    finally:
        run.stop_all()
    return run, verdict, outcome


def publish_records(run: ChaosRun, records: list) -> list[tuple[int, int]]:
    positions = run.publish(records)
    bad = {b"chaos-bad", b"chaos-big"}
    run.bad |= {p for (key, _), p in zip(records, positions, strict=True) if key in bad}
    return positions


def publish_up_to(run: ChaosRun, records: list, share: float) -> None:
    """Publish ``records`` from where ``run.rest`` starts up to ``share`` of them: with
    ``run.wait_done`` after, a fault meets the stream exactly there, however fast the
    worker applies it."""
    end = int(len(records) * share)
    publish_records(run, records[len(records) - len(run.rest) : end])
    run.rest = records[end:]


def finish(ctx: Context, run: ChaosRun, verdict: Verdict, outcome: Outcome, **judge) -> Verdict:
    assert ctx.reference is not None
    models = judge.pop("models", ctx.models)
    outcome.judge(verdict, ctx.reference, bad=run.bad, published=run.published, models=models,
                  kills=run.kills, **judge)  # fmt: skip
    run.clean()
    return verdict


def every_worker_holds_partitions(run: ChaosRun) -> None:
    wait_for(lambda: all(w.health()[1]["stream"]["partitions"] for w in run.workers),
             60, "every worker to hold partitions")  # fmt: skip


def wait_holding_every_partition(run: ChaosRun, worker: WorkerProcess, who: str) -> None:
    """Until ``worker`` (``who``, in the time-out's message) holds every partition of the
    run: it took the others' over."""
    every = run.settings.partitions
    wait_for(lambda: len(worker.health()[1]["stream"]["partitions"]) == every, 60,
             f"{who} to hold every partition")  # fmt: skip


def replace_worker(run: ChaosRun, stop: Callable[[WorkerProcess], None]) -> float:
    """``stop`` the live worker and start another: the time to resume from the stop."""
    stop(run.live_workers()[0])
    stopped_at, before = time.monotonic(), run.applied()
    run.start_worker()
    return run.time_to_resume(since=stopped_at, before=before)


def holding_most_models(run: ChaosRun) -> WorkerProcess:
    """The worker whose partitions most models map to (a model's input and by-model
    partitions have one owner)."""
    partitions = run.settings.partitions
    homes = {home_partition(m.model_id.encode(), partitions) for m in run.stream.models}
    return max(run.workers, key=lambda w: len(homes & set(w.health()[1]["stream"]["partitions"])))


def expect_said(worker: WorkerProcess, words: str, otherwise: str) -> None:
    """Fail the run where ``worker``'s log lacks ``words``: the fault missed its premise."""
    if words not in worker.log_path.read_text():
        raise DriftlineError(f"{otherwise}: the fault missed its premise")
