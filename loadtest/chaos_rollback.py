"""Redis coming back behind its last writes, as after a machine crash that lost what was
not yet on disk or a failover to a replica that had not received them: from a copy of its
append-only file taken earlier in the run. Each scenario stages the stream (a part
published, then applied, before each step), so the copy is behind however fast the worker,
and fails where the worker does not say it found Redis behind: a fault that missed its
premise would pass for nothing. Judged as ``loadtest/chaos_scenarios.py``'s are."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from pathlib import Path

from loadtest.chaos_redis import aof_dir, restart_redis
from loadtest.chaos_run import ChaosRun, wait_for
from loadtest.chaos_staging import (
    FAST_COMMITS,
    Context,
    every_worker_holds_partitions,
    expect_said,
    finish,
    holding_most_models,
    publish_records,
    publish_up_to,
    replace_worker,
    run_stream,
    wait_holding_every_partition,
)
from loadtest.chaos_stream import Verdict
from streams.adapters.kafka.roads import home_partition
from streams.stack.worker import WorkerProcess

__all__ = ["ROLLBACK_RESUME_LIMIT_S", "ROLLBACK_SCENARIOS"]


def redis_rollback(ctx: Context) -> Verdict:
    """Redis SIGKILLed once 60% of the stream is applied and started again from a copy of
    its append-only file taken at 30%: it comes back behind its last writes, as after a
    machine crash that lost what was not yet on disk, or a failover to a replica that had
    not received them, while Kafka holds the worker's commits past them. The worker goes on
    (what it holds must be written again: the run fails unless it says Redis went back)
    and is SIGKILLed at 80%, a replacement resuming from what was saved."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        run.wait_done(timeout_s=300)
        _copy_aof(run, copy)
        publish_up_to(run, records, 0.6)
        run.wait_done(timeout_s=300)
        restart_redis(run, from_copy=copy)
        restarted, before = time.monotonic(), run.applied()
        publish_up_to(run, records, 0.8)
        resumed = run.time_to_resume(since=restarted, before=before)
        run.wait_done(timeout_s=300)
        expect_said(
            run.live_workers()[0], "Redis went back", "the worker never found Redis behind it"
        )
        replace_worker(run, run.kill)
        return resumed

    return finish(ctx, *run_stream(ctx, "redis_rollback", fault, first=0.3))


def redis_rollback_crash(ctx: Context) -> Verdict:
    """As ``redis_rollback``, but the worker dies with Redis (the same machine): Redis
    comes back from a copy of its append-only file taken once a quarter of the stream is
    applied, the worker (committing every 0.2 s) SIGKILLed with it once the first half is,
    and the replacement starts from the commits, past what Redis holds: the records
    between must be read again. One model's records are held back from the first quarter,
    so Redis also comes back from before its partition's first save (no mark at all). The
    second half is published after, so a state left behind shows in the counts; a
    replacement that found nothing behind fails the run (its premise missed)."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        half = len(records) // 2
        # The first quarter without one model's records, nor the bad ones (routed by what
        # their values hold): that model's partition has nothing saved in the copy (with
        # direct routing, not even its road).
        others = _models_sharing_no_partition(run)[1:]
        quarter = records[: half // 2]
        held = [record for record in quarter if record[0] not in others]
        quarter = [record for record in quarter if record[0] in others]
        publish_records(run, quarter)
        run.wait_done(timeout_s=300)
        _copy_aof(run, copy)
        publish_records(run, held)
        publish_records(run, records[half // 2 : half])
        run.rest = records[half:]
        run.wait_done(timeout_s=300)
        time.sleep(1)  # FAST_COMMITS: past what Redis will come back with
        run.kill(run.live_workers()[0], read_saved=False)
        crashed_at, before = time.monotonic(), run.applied()
        restart_redis(run, from_copy=copy)
        run.read_saved()  # what the replacement finds: the state of the copy
        replacement = run.start_worker()
        publish_records(run, run.rest)
        run.rest = []
        resumed = run.time_to_resume(since=crashed_at, before=before)
        expect_said(
            replacement, "behind the committed offsets", "the replacement found nothing behind"
        )
        return resumed

    run = run_stream(ctx, "redis_rollback_crash", fault, extra_env=FAST_COMMITS, first=0)
    return finish(ctx, *run)


def _models_sharing_no_partition(run: ChaosRun) -> list[bytes]:
    """The keys of the stream's models that no other model shares a by-model partition with."""
    keys = [m.model_id.encode() for m in run.stream.models]
    home = {key: home_partition(key, run.settings.partitions) for key in keys}
    shared = Counter(home.values())
    return [key for key in keys if shared[home[key]] == 1]


def redis_rollback_takeover(ctx: Context) -> Verdict:
    """Two workers; a copy of Redis's append-only file taken once a quarter of the stream
    is applied; one worker SIGKILLed once half is, the other taking its models over from
    their last saves and applying a quarter of the stream more; Redis then SIGKILLed and
    started from the copy. What it holds of the taken-over models is an earlier save of
    the dead worker's, from before the takeover, not a save since: the survivor must write
    what it holds again rather than reload it (the run fails unless it says Redis went
    back). The last quarter is published after, so every model meets the loss at a save."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        victim = _copy_then_kill(run, records, copy)
        survivor = next(w for w in run.workers if w is not victim)
        # The survivor holds every partition, then meets each model in records published
        # after the takeover: it reads the models it took over and saves them before Redis
        # goes back. (Else it could take over after the rollback: the test of a dead
        # worker's saves lost, whose alerts its successor raises again by design.)
        wait_holding_every_partition(run, survivor, "the survivor")
        publish_up_to(run, records, 0.75)
        run.wait_done(timeout_s=300)  # the survivor saved the models it took over
        resumed = _roll_back_then_publish_the_rest(run, copy)
        expect_said(survivor, "Redis went back", "the survivor never found Redis behind it")
        return resumed

    name = "redis_rollback_takeover"
    return finish(ctx, *run_stream(ctx, name, fault, workers=2, first=0.25))


def redis_rollback_dead_writer(ctx: Context) -> Verdict:
    """Two workers; a copy of Redis's append-only file taken once a quarter of the stream
    is applied; one worker SIGKILLed once half is (its commits past the copy), and Redis at
    once started from the copy, before the other takes the dead one's partitions over:
    Redis lost saves of a worker no longer running, which no worker holds. The survivor
    reads the earlier saves and applies the records since again (its commits are past them:
    finding 39's compare; the run fails unless it says so): nothing lost or counted twice.
    The alerts the dead worker raised from the lost saves are raised again, with the same
    ids (at-least-once), so repeated alerts are allowed here."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        victim = _copy_then_kill(run, records, copy)
        resumed = _roll_back_then_publish_the_rest(run, copy)
        survivor = next(w for w in run.workers if w is not victim)
        expect_said(survivor, "behind the committed offsets", "the survivor found nothing behind")
        return resumed

    name = "redis_rollback_dead_writer"
    run = run_stream(ctx, name, fault, workers=2, first=0.25, extra_env=FAST_COMMITS)
    return finish(ctx, *run, allow_duplicate_alerts=True)


def _copy_then_kill(run: ChaosRun, records: list, copy: Path) -> WorkerProcess:
    """With both workers holding partitions: once what is published (the stream's first
    quarter) is applied, ``copy`` of the append-only file; once the first half is, and
    committed, the worker holding most models SIGKILLed; that worker."""
    every_worker_holds_partitions(run)
    run.wait_done(timeout_s=300)
    _copy_aof(run, copy)
    publish_up_to(run, records, 0.5)
    run.wait_done(timeout_s=300)
    time.sleep(1)
    victim = holding_most_models(run)
    run.kill(victim)
    return victim


def _roll_back_then_publish_the_rest(run: ChaosRun, copy: Path) -> float:
    """Redis started from ``copy``, then the stream's rest published: the time to resume."""
    restart_redis(run, from_copy=copy)
    restarted, before = time.monotonic(), run.applied()
    publish_records(run, run.rest)
    run.rest = []
    return run.time_to_resume(since=restarted, before=before)


def _copy_aof(run: ChaosRun, copy: Path) -> None:
    """Copy the stack Redis's append-only file as it is now, to start it from later."""
    # A rewrite of the file while it is copied would leave a copy of neither.
    run.redis.config_set("auto-aof-rewrite-percentage", 0)
    wait_for(lambda: run.redis.info("persistence")["aof_rewrite_in_progress"] == 0, 60,
             "no rewrite of the append-only file")  # fmt: skip
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(aof_dir(run), copy)


ROLLBACK_SCENARIOS = {
    "redis_rollback": redis_rollback,
    "redis_rollback_crash": redis_rollback_crash,
    "redis_rollback_takeover": redis_rollback_takeover,
    "redis_rollback_dead_writer": redis_rollback_dead_writer,
}

#: The stated time to resume after each fault ends, in seconds.
ROLLBACK_RESUME_LIMIT_S = {
    "redis_rollback": 30.0,
    "redis_rollback_crash": 45.0,  # as kill9_x3
    "redis_rollback_takeover": 30.0,  # as redis_rollback: the survivor goes on
    "redis_rollback_dead_writer": 45.0,  # as kill9_x3
}
