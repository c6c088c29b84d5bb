"""The faults of Redis: a hung server, a corrupt state key, every key of the run lost.
Each runs the fixed stream as ``loadtest/chaos_scenarios.py``'s do and is judged the same
way (``loadtest/chaos.py`` says how)."""

from __future__ import annotations

import os
import shutil
import signal
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson

from loadtest.chaos_run import ChaosRun, wait_for
from loadtest.chaos_scenarios import (
    Context,
    every_worker_holds_partitions,
    finish,
    publish_records,
    replace_worker,
    run_stream,
)
from loadtest.chaos_stream import Verdict
from streams import stack
from streams.adapters.redis.keys import model_base
from streams.core.errors import DriftlineError
from streams.stack import redis as stack_redis
from streams.stack import service
from streams.stack.worker import WorkerProcess

__all__ = ["REDIS_RESUME_LIMIT_S", "REDIS_SCENARIOS"]


def _redis_pid(config: stack.StackConfig) -> int:
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
        pid = _redis_pid(run.config)
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
        _restart_redis(run)
        return run.time_to_resume()

    return finish(ctx, *run_stream(ctx, "redis_restart", fault))


def redis_rollback(ctx: Context) -> Verdict:
    """Redis SIGKILLed at 60% and started again from a copy of its append-only file taken
    at 30%: it comes back behind its last writes, as after a machine crash that lost what
    was not yet on disk, or a failover to a replica that had not received them, while Kafka
    holds the worker's commits past them. The worker goes on (what it holds must be written
    again) and is SIGKILLed at 80%, a replacement resuming from what was saved."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        run.wait_fraction(0.3)
        _copy_aof(run, copy)
        run.wait_fraction(0.6)
        _restart_redis(run, from_copy=copy)
        resumed = run.time_to_resume()
        run.wait_fraction(0.8)
        replace_worker(run, run.kill)
        return resumed

    return finish(ctx, *run_stream(ctx, "redis_rollback", fault))


def redis_rollback_crash(ctx: Context) -> Verdict:
    """As ``redis_rollback``, but the worker dies with Redis (the same machine): Redis
    comes back from a copy of its append-only file taken once a quarter of the stream is
    applied, the worker (committing every 0.2 s) SIGKILLed with it once the first half is,
    and the replacement starts from the commits, past what Redis holds: the records
    between must be read again. With repartition routing one model's records are held back
    from the first quarter, so Redis also comes back from before its partition's first save
    (no mark at all). The
    second half is published after, so a state left behind shows in the counts; a
    replacement that found nothing behind fails the run (its premise missed)."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        half = len(records) // 2
        quarter, held = records[: half // 2], []
        if run.settings.routing != "direct":
            # Without one model's records, nor the bad ones (routed by what their values
            # hold): that model's partition has nothing saved in the copy. (With direct
            # routing its road, claimed at its first records, would be lost too, which the
            # compare cannot tell from a partition not yet routed direct: finding 43.)
            others = _models_sharing_no_partition(run)[1:]
            held = [record for record in quarter if record[0] not in others]
            quarter = [record for record in quarter if record[0] in others]
        publish_records(run, quarter)
        run.wait_done(timeout_s=300)
        _copy_aof(run, copy)
        publish_records(run, held)
        publish_records(run, records[half // 2 : half])
        run.rest = records[half:]
        run.wait_done(timeout_s=300)
        time.sleep(1)  # commits every 0.2 s (below): past what Redis will come back with
        run.kill(run.live_workers()[0], read_saved=False)
        crashed_at, before = time.monotonic(), run.applied()
        _restart_redis(run, from_copy=copy)
        run.read_saved()  # what the replacement finds: the state of the copy
        replacement = run.start_worker()
        publish_records(run, run.rest)
        run.rest = []
        resumed = run.time_to_resume(since=crashed_at, before=before)
        if "behind the committed offsets" not in replacement.log_path.read_text():
            raise DriftlineError("the replacement found no partition behind the commits: "
                                 "Redis did not come back behind them")  # fmt: skip
        return resumed

    # The killed worker's commits must pass the copy's state, or there is nothing to find.
    extra_env = {"DRIFTLINE_COMMIT_INTERVAL_S": "0.2"}
    run = run_stream(ctx, "redis_rollback_crash", fault, extra_env=extra_env, first=0)
    return finish(ctx, *run)


def _models_sharing_no_partition(run: ChaosRun) -> list[bytes]:
    """The keys of the stream's models that no other model shares a by-model partition with."""
    keys = [m.model_id.encode() for m in run.stream.models]
    homes = Counter(zlib.crc32(key) % run.settings.partitions for key in keys)
    return [key for key in keys if homes[zlib.crc32(key) % run.settings.partitions] == 1]


def redis_rollback_takeover(ctx: Context) -> Verdict:
    """Two workers; a copy of Redis's append-only file taken at half the stream's first
    half; one worker SIGKILLed then, the other taking its models over from their last saves
    and applying the rest of that half and a quarter of the stream more; Redis then
    SIGKILLed and started from the copy. What it holds of the taken-over models is an
    earlier save of the dead worker's, from before the takeover, not a save since: the
    survivor must write what it holds again rather than reload it. The last quarter is
    published after, so every model meets the loss at a save."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        victim = _copy_then_kill(run, copy)
        survivor = next(w for w in run.workers if w is not victim)
        # The survivor holds every partition, then meets each model in records published
        # after the takeover: it reads the models it took over and saves them before Redis
        # goes back. (Without these, the victim may have applied all it was given before
        # the kill, and the survivor would take over after the rollback: the test of a dead
        # worker's saves lost, whose alerts its successor raises again by design.)
        every = run.settings.partitions
        wait_for(lambda: len(survivor.health()[1]["stream"]["partitions"]) == every, 60,
                 "the survivor to hold every partition")  # fmt: skip
        middle = len(run.rest) // 2
        publish_records(run, run.rest[:middle])
        run.rest = run.rest[middle:]
        run.wait_fraction(1.0)  # the survivor saved the models it took over
        return _roll_back_then_publish_the_rest(run, copy)

    return finish(ctx, *run_stream(ctx, "redis_rollback_takeover", fault, workers=2))


def redis_rollback_dead_writer(ctx: Context) -> Verdict:
    """Two workers; a copy of Redis's append-only file taken at half the stream's first
    half; one worker SIGKILLed then and Redis at once started from the copy, before the
    other takes the dead one's partitions over: Redis lost saves of a worker no longer
    running, which no worker holds. The survivor reads the earlier saves and applies the
    records since again (its commits are past them: finding 39's compare): nothing lost or
    counted twice. The alerts the dead worker raised from the lost saves are raised again,
    with the same ids (at-least-once), so repeated alerts are allowed here."""
    copy = ctx.workdir / "redis-rollback-aof"

    def fault(run: ChaosRun, records: list) -> float:
        _copy_then_kill(run, copy)
        return _roll_back_then_publish_the_rest(run, copy)

    name = "redis_rollback_dead_writer"
    return finish(ctx, *run_stream(ctx, name, fault, workers=2), allow_duplicate_alerts=True)


def _copy_then_kill(run: ChaosRun, copy: Path) -> WorkerProcess:
    """With both workers holding partitions: at half of what is published (the stream's
    first half), ``copy`` of the append-only file, then the worker holding most models
    SIGKILLed; that worker."""
    every_worker_holds_partitions(run)
    run.wait_fraction(0.5)
    _copy_aof(run, copy)
    victim = _holding_most_models(run)
    run.kill(victim)
    return victim


def _roll_back_then_publish_the_rest(run: ChaosRun, copy: Path) -> float:
    """Redis started from ``copy``, then the stream's rest published: the time to resume."""
    _restart_redis(run, from_copy=copy)
    restarted, before = time.monotonic(), run.applied()
    publish_records(run, run.rest)
    run.rest = []
    return run.time_to_resume(since=restarted, before=before)


def _holding_most_models(run: ChaosRun) -> WorkerProcess:
    """The worker whose partitions most models map to (a model's input and by-model
    partitions have one owner)."""
    homes = {zlib.crc32(m.model_id.encode()) % run.settings.partitions for m in run.stream.models}
    return max(run.workers, key=lambda w: len(homes & set(w.health()[1]["stream"]["partitions"])))


def _copy_aof(run: ChaosRun, copy: Path) -> None:
    """Copy the stack Redis's append-only file as it is now, to start it from later."""
    # A rewrite of the file while it is copied would leave a copy of neither.
    run.redis.config_set("auto-aof-rewrite-percentage", 0)
    wait_for(lambda: run.redis.info("persistence")["aof_rewrite_in_progress"] == 0, 60,
             "no rewrite of the append-only file")  # fmt: skip
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(_aof_dir(run), copy)


def _restart_redis(run: ChaosRun, *, from_copy: Path | None = None) -> None:
    """SIGKILL the stack's Redis and start it again: from its append-only file, or from
    ``from_copy`` (one ``_copy_aof`` took) in its place."""
    os.kill(_redis_pid(run.config), signal.SIGKILL)
    if from_copy is not None:
        shutil.rmtree(_aof_dir(run))
        shutil.copytree(from_copy, _aof_dir(run))
    time.sleep(1)  # a running worker meets refused connections for a while
    service.start(stack_redis.service(run.config), log=lambda line: None)


def _aof_dir(run: ChaosRun) -> Path:
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
    "redis_rollback": redis_rollback,
    "redis_rollback_crash": redis_rollback_crash,
    "redis_rollback_takeover": redis_rollback_takeover,
    "redis_rollback_dead_writer": redis_rollback_dead_writer,
    "corrupt_state": corrupt_state,
    "redis_lost": redis_lost,
    "redis_lost_2_workers": lambda ctx: redis_lost(ctx, workers=2),
    "redis_lost_idle": redis_lost_idle,
}

#: The stated time to resume after each fault ends, in seconds.
REDIS_RESUME_LIMIT_S = {
    "redis_outage": 30.0,
    "redis_outage_kill": 45.0,
    "redis_restart": 30.0,
    "redis_rollback": 30.0,
    "redis_rollback_crash": 45.0,  # as kill9_x3
    "redis_rollback_takeover": 30.0,  # as redis_rollback: the survivor goes on
    "redis_rollback_dead_writer": 45.0,  # as kill9_x3
    "corrupt_state": 45.0,
    "redis_lost": 45.0,  # as kill9_x3
    "redis_lost_2_workers": 45.0,
    "redis_lost_idle": 30.0,  # the check's second, then the models saved again
}
