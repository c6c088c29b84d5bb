"""The faults of Redis: a hung server, a corrupt state key, every key of the run lost.
Each runs the fixed stream as ``loadtest/chaos_scenarios.py``'s do and is judged the same
way (``loadtest/chaos.py`` says how)."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from loadtest.chaos_run import ChaosRun
from loadtest.chaos_staging import (
    FAST_COMMITS,
    Context,
    every_worker_holds_partitions,
    expect_said,
    finish,
    holding_most_models,
    publish_records,
    replace_worker,
    run_stream,
    wait_holding_every_partition,
)
from loadtest.chaos_stream import Verdict
from streams import stack
from streams.adapters.redis.keys import model_base
from streams.stack import redis as stack_redis
from streams.stack import service

__all__ = ["REDIS_RESUME_LIMIT_S", "REDIS_SCENARIOS", "aof_dir", "redis_pid", "restart_redis"]


def redis_pid(config: stack.StackConfig) -> int:
    pid = service.status(stack_redis.service(config)).pid
    if pid is None:
        raise RuntimeError("the Redis of the stack was not started by driftline: no pid")
    return pid


def redis_outage(ctx: Context, *, kill_during: bool = False) -> Verdict:
    """SIGSTOP Redis (a hung server) at 50% for the outage, then SIGCONT; with
    ``kill_during``, the worker is also SIGKILLed half-way through the outage."""

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        run.wait_fraction(0.5)
        pid = redis_pid(run.config)
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(ctx.size.outage_s / 2)
            if kill_during:
                run.kill(run.live_workers()[0], read_saved=False)
            time.sleep(ctx.size.outage_s / 2)
        finally:
            os.kill(pid, signal.SIGCONT)
        resumed_from, before = time.monotonic(), run.applied()
        if kill_during:
            # Read once Redis has run what the dead worker had sent it before the hang.
            run.read_saved()
            run.start_worker()
        return run.time_to_resume(since=resumed_from, before=before)

    name = "redis_outage_kill" if kill_during else "redis_outage"
    return finish(ctx, *run_stream(ctx, name, fault))


def redis_restart(ctx: Context) -> Verdict:
    """SIGKILL Redis at 50% (a crashed server, or its pod deleted) and start it again from
    its append-only file, as the stack runs it: every connection is dropped, the scripts
    are gone, and what it acknowledged before the kill must still be there."""

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        run.wait_fraction(0.5)
        restart_redis(run)
        return run.time_to_resume()

    return finish(ctx, *run_stream(ctx, "redis_restart", fault))


def restart_redis(run: ChaosRun, *, from_copy: Path | None = None) -> None:
    """SIGKILL the stack's Redis and start it again: from its append-only file, or from
    ``from_copy`` (one ``_copy_aof`` took) in its place."""
    os.kill(redis_pid(run.config), signal.SIGKILL)
    if from_copy is not None:
        shutil.rmtree(aof_dir(run))
        shutil.copytree(from_copy, aof_dir(run))
    time.sleep(1)  # a running worker meets refused connections for a while
    service.start(stack_redis.service(run.config), log=lambda line: None)


def aof_dir(run: ChaosRun) -> Path:
    return stack_redis.data_dir(run.config) / "appendonlydir"


def corrupt_state(ctx: Context) -> Verdict:
    """Garbage planted in one model's state key while its worker is down (killed at 50%):
    the restarted worker quarantines it and that model starts afresh. Its later alerts
    differ by design, so the other models are compared as usual, and for it: its stored
    state holds exactly the events after the restart, its alerts from before the fault are
    the reference's, and an internal alert says the state was quarantined."""
    victim = ctx.size.stream.models[0].model_id
    seen: dict[str, object] = {}

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        run.wait_fraction(0.5)
        # SIGKILL, not SIGTERM: sigterm_restart shows a SIGTERM loses state on its own.
        run.kill(run.live_workers()[0])
        key = f"{model_base(run.settings.redis_prefix, victim)}:state:v1"
        seen["before"] = orjson.loads(run.redis.get(key))
        seen["alerts"] = {a["alert_id"] for a in run.outcome().alerts if a["model_id"] == victim}
        run.redis.set(key, b"\x80\x04\x95garbage\xff{", ex=3600)
        killed_at, before = time.monotonic(), run.applied()
        run.start_worker()
        return run.time_to_resume(since=killed_at, before=before)

    run, verdict, outcome = run_stream(ctx, "corrupt_state", fault)
    others = ctx.models - {victim}
    assert ctx.reference is not None
    state = seen["before"]
    assert isinstance(state, dict)
    applied_before = state["reference_count"] + state["windows_closed"] * ctx.size.window_events
    applied_before += state["window_count"]
    want = ctx.reference.totals[f"{victim}:v1"] - applied_before
    got = outcome.totals.get(f"{victim}:v1", 0)
    if got != want:
        verdict.fail(f"{victim}: state holds {got} events, {want} came after the restart")
    reference_ids = set(ctx.reference.alert_ids(models={victim}))
    if not seen["alerts"] <= reference_ids:  # type: ignore[operator]
        verdict.fail(f"{victim}: alerts from before the fault differ from the reference's")
    internal = [a for a in outcome.alerts if a["model_id"] == victim and a["type"] == "internal"]
    if not any("quarantined" in a.get("message", "") for a in internal):
        verdict.fail(f"{victim}: no internal alert says its state was quarantined")
    verdict.notes.append(f"{victim} re-learned from its {want} events after the restart")
    return finish(ctx, run, verdict, outcome, models=others)


def redis_lost(ctx: Context, *, workers: int = 1) -> Verdict:
    """Redis loses every key of the run while the ``workers`` run (a restart without
    persistence, a failover to an empty replica), with 90% of the stream's first half
    applied; the second half is published after, so that every model meets the loss at a
    save (a model with no traffic since keeps none of its state). A worker is SIGKILLed at
    75% and a replacement resumes from what was saved since."""

    def fault(run: ChaosRun, records: list) -> float:
        if workers > 1:
            every_worker_holds_partitions(run)
        run.wait_fraction(0.9)  # of the first half: all that is published yet
        _lose_every_key(run)
        publish_records(run, run.rest)
        run.rest = []
        run.wait_fraction(0.75)
        return replace_worker(run, run.kill)

    name = "redis_lost" if workers == 1 else f"redis_lost_{workers}_workers"
    return finish(ctx, *run_stream(ctx, name, fault, workers=workers))


def redis_lost_takeover(ctx: Context) -> Verdict:
    """Redis loses every key of the run while two workers idle with the first half of the
    stream applied, and the worker holding most models is SIGKILLed at once, so nothing it
    held in memory (its models' states, its partitions' roads) is written back; the other
    takes its partitions over finding nothing of them in Redis (the time to resume: from
    the loss to the takeover), and the rest is published. Committed partitions with no mark
    must be read again from what Kafka keeps (RELIABILITY findings 40 and 43), so every
    model's state ends as the reference's."""

    def fault(run: ChaosRun, records: list) -> float:
        every_worker_holds_partitions(run)
        run.wait_done(timeout_s=300)
        time.sleep(1)  # FAST_COMMITS: committed, so the takeover starts past what is lost
        victim = holding_most_models(run)
        survivor = next(w for w in run.workers if w is not victim)
        _lose_every_key(run)
        run.kill(victim)
        lost_at = time.monotonic()
        publish_records(run, run.rest)
        run.rest = []
        wait_holding_every_partition(run, survivor, "the survivor")
        resumed = time.monotonic() - lost_at
        run.wait_done(timeout_s=300)
        expect_said(survivor, "behind the committed offsets", "the survivor found nothing behind")
        return resumed

    run = run_stream(ctx, "redis_lost_takeover", fault, workers=2, extra_env=FAST_COMMITS)
    # The victim's models are learned again from the first record: their alerts come again.
    return finish(ctx, *run, allow_duplicate_alerts=True)


def redis_lost_idle(ctx: Context) -> Verdict:
    """Redis loses every key of the run once the whole stream is applied: no later event
    meets the loss at a save, so the worker's check between batches (every second here)
    must save what it holds again, fences and low-water marks with it."""

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        run.wait_done(timeout_s=600)
        _lose_every_key(run)
        lost_at = time.monotonic()
        run.wait_done(timeout_s=60)  # the low-water marks, written after the states
        return time.monotonic() - lost_at

    extra_env = {"DRIFTLINE_LOST_STATE_CHECK_S": "1"}
    return finish(ctx, *run_stream(ctx, "redis_lost_idle", fault, extra_env=extra_env))


def _lose_every_key(run: ChaosRun) -> None:
    keys = list(run.redis.scan_iter(f"{run.settings.redis_prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        run.redis.unlink(*keys[start : start + 1000])


REDIS_SCENARIOS: dict[str, Callable[[Context], Verdict]] = {
    "redis_outage": redis_outage,
    "redis_outage_kill": lambda ctx: redis_outage(ctx, kill_during=True),
    "redis_restart": redis_restart,
    "corrupt_state": corrupt_state,
    "redis_lost": redis_lost,
    "redis_lost_2_workers": lambda ctx: redis_lost(ctx, workers=2),
    "redis_lost_takeover": redis_lost_takeover,
    "redis_lost_idle": redis_lost_idle,
}

#: The stated time to resume after each fault ends, in seconds.
REDIS_RESUME_LIMIT_S = {
    "redis_outage": 30.0,
    "redis_outage_kill": 45.0,
    "redis_restart": 30.0,
    "corrupt_state": 45.0,
    "redis_lost": 45.0,  # as kill9_x3
    "redis_lost_2_workers": 45.0,
    "redis_lost_takeover": 45.0,  # as kill9_x3: the session time-out, then a rebalance
    "redis_lost_idle": 30.0,  # the check's second, then the models saved again
}
