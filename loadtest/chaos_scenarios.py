"""The faults: each scenario runs the fixed stream with one fault injected and is judged
against the crash-free reference run (``loadtest/chaos.py`` says how)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

import orjson

from loadtest.chaos_run import ChaosRun, wait_for
from loadtest.chaos_staging import (
    Context,
    every_worker_holds_partitions,
    finish,
    publish_records,
    replace_worker,
    run_stream,
    wait_holding_every_partition,
)
from loadtest.chaos_stream import Outcome, Verdict
from streams.adapters.kafka.records import close_producers
from streams.adapters.kafka.roads import Roads
from streams.adapters.redis.road_store import roads_key
from streams.core.errors import DriftlineError
from streams.samples import sample_events
from streams.settings import Settings
from streams.simulation import keyed_events
from streams.stack import kafka, service
from streams.stack.worker import WorkerProcess

__all__ = ["RESUME_LIMIT_S", "SCENARIOS", "reference_run"]

BIG_RECORD_BYTES = 4_194_000  # a 4 MiB record the broker (4 MiB limit) still takes
FLOOD_MODELS, VERSIONS = 5_000, 3_000
WARMUP_TIMEOUT_S = 10
#: Records published at a time while ``paused_worker`` waits for its victim to apply some.
_FREEZE_CHUNK = 200


def reference_run(ctx: Context) -> Verdict:
    """The crash-free run: its outcome is what every scenario must reproduce."""
    run, verdict, outcome = run_stream(ctx, "reference", lambda run, records: None)
    ctx.reference, ctx.models = outcome, frozenset(s.model_id for s in run.stream.models)
    per_model = run.stream.events // len(run.stream.models)
    drifting = {a["model_id"] for a in outcome.alerts if a["type"] == "data_drift"}
    if drifting != {s.model_id for s in run.stream.models[:2]}:
        verdict.fail(f"the drifts were not both caught (data_drift alerts for {drifting})")
    expected = {f"{s.model_id}:v1": per_model for s in run.stream.models}
    if outcome.totals != expected:
        verdict.fail(f"state totals {outcome.totals}, expected {expected}")
    return finish(ctx, run, verdict, outcome)


def kill9_x3(ctx: Context) -> Verdict:
    """SIGKILL the worker at 25, 50 and 75% applied; a replacement starts at once."""
    return finish(ctx, *_killed_thrice(ctx, "kill9_x3", [{}] * 3))


def switch_routing(ctx: Context) -> Verdict:
    """As ``kill9_x3``, each replacement routing the other way (``direct`` and
    ``repartition`` in turn) and reading the input again from its start (nothing
    committed), with a third of the stream's second half published after each restart: the
    records read again keep the road they took first (``streams/adapters/kafka/roads.py``),
    so none is applied twice or lost. The roads stored must show each change."""
    direct = Settings.from_env(os.environ).routing == "direct"
    first, other = ("direct", "repartition") if direct else ("repartition", "direct")
    modes = [{"DRIFTLINE_ROUTING": mode, "DRIFTLINE_COMMIT_INTERVAL_S": "3600"}
             for mode in (first, other, first, other)]  # fmt: skip
    run, verdict, outcome = _killed_thrice(
        ctx, "switch_routing", modes[1:], first=modes[0], paced=True
    )
    settings = run.settings
    stored = run.redis.hgetall(roads_key(settings.redis_prefix, settings.topic_predictions))
    roads = {int(p): Roads.parse(text) for p, text in stored.items()}
    # The claims as made: one at the mark where the claim before was made replaces it (a
    # replacement that took its first chunk before any new record came), so read, the
    # roads may show fewer changes than the restarts made.
    if not any(len(text.split(b",")) >= 3 for text in stored.values()):
        verdict.fail(f"no partition changed road at each restart: {stored}")
    segments = {
        p: ", ".join(f"{road} from {start}" for start, road in zip(r.starts, r.roads, strict=True))
        for p, r in sorted(roads.items())
    }
    verdict.notes.append("roads: " + "; ".join(f"{p}: {text}" for p, text in segments.items()))
    return finish(ctx, run, verdict, outcome)


def _killed_thrice(
    ctx: Context, name: str, replacements: list[dict[str, str]],
    first: dict[str, str] | None = None, paced: bool = False,
) -> tuple[ChaosRun, Verdict, Outcome]:  # fmt: skip
    """SIGKILL the worker (started with ``first`` settings) at 25, 50 and 75% applied; a
    replacement starts at once, each with its ``replacements`` settings. The stream's
    second half is published at the start, or (``paced``) a third after each restart."""

    def fault(run: ChaosRun, records: list) -> float:
        rest, run.rest = run.rest, []
        third = len(rest) // 3 + 1
        feeds = [rest[i * third : (i + 1) * third] for i in range(3)] if paced else [[]] * 3
        if not paced:
            publish_records(run, rest)
        resumes = []
        for fraction, settings, feed in zip((0.25, 0.5, 0.75), replacements, feeds, strict=True):
            run.wait_fraction(fraction)
            run.kill(run.live_workers()[0])
            killed_at, before = time.monotonic(), run.applied()
            run.start_worker(settings)
            publish_records(run, feed)
            resumes.append(run.time_to_resume(since=killed_at, before=before))
        return max(resumes)

    return run_stream(ctx, name, fault, extra_env=first)


def broker_restart(ctx: Context, *, kill: bool = False) -> Verdict:
    """Stop the Kafka broker (SIGTERM; SIGKILL with ``kill``: it recovers its logs at start)
    at 50% and start it again."""

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        run.wait_fraction(0.5)
        close_producers()  # a kept producer would log each refused reconnection
        broker = kafka.service(run.config)
        pid = service.status(broker).pid
        if kill and pid is not None:
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: service.status(broker).pid is None, 30, "the broker to die")
        else:
            service.stop(broker, log=lambda line: None)
        service.start(broker, log=lambda line: None)
        return run.time_to_resume()

    return finish(ctx, *run_stream(ctx, "broker_kill" if kill else "broker_restart", fault))


def two_workers_kill(ctx: Context) -> Verdict:
    """Two workers share the partitions; one is SIGKILLed at 50%, the other takes over."""

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        every_worker_holds_partitions(run)
        run.wait_fraction(0.5)
        victim = run.workers[-1]
        # With routing, the victim's input partitions say little: the state it owned is that
        # of its by-model partitions, whose models' input may be anywhere: wait for progress
        # on any input partition not applied to its end.
        held = None if run.routed else victim.health()[1]["stream"]["partitions"]
        run.kill(victim)
        return run.time_to_resume(held, since=time.monotonic())

    return finish(ctx, *run_stream(ctx, "two_workers_kill", fault, workers=2))


def paused_worker(ctx: Context) -> Verdict:
    """Two workers share the partitions; one is frozen (SIGSTOP: a long GC pause, a stalled
    VM) past 25%, while it is applying records, until the group has given all its
    partitions to the other, and woken (SIGCONT) at once, while the other applies what it
    took over: the woken one still holds the records it had fetched and its state in
    memory. It must apply nothing twice, publish no alert the reference lacks, and rejoin
    the group. The time to resume is from the freeze to the other worker holding every
    partition."""

    def fault(run: ChaosRun, records: list) -> float:
        every_worker_holds_partitions(run)
        run.wait_fraction(0.25)
        survivor, victim = run.workers
        woken["applied before"] = _freeze_while_applying(run, victim)
        frozen_at = time.monotonic()
        try:
            wait_holding_every_partition(run, survivor, "the other worker")
            took_over_s = time.monotonic() - frozen_at
        finally:
            os.kill(victim.pid, signal.SIGCONT)
        wait_for(lambda: victim.running and victim.health()[1]["stream"]["partitions"],
                 90, "the woken worker to hold partitions again")  # fmt: skip
        # What the fences met of the batch it was applying when frozen, on either side.
        for worker, side in ((victim, "woken"), (survivor, "other")):
            woken[f"{side} skipped"] = worker.metric_total(
                "driftline_replayed_records_skipped_total"
            )
            woken[f"{side} rebuilt"] = worker.metric_total("driftline_state_saves_refused_total")
        return took_over_s

    woken: dict[str, float] = {}
    run, verdict, outcome = run_stream(ctx, "paused_worker", fault, workers=2)
    if woken:  # records skipped as applied, model states rebuilt after a refused save
        verdict.notes.append(", ".join(f"{name} {count:.0f}" for name, count in woken.items()))
    # A worker checks its models were not saved by the other before their alerts leave;
    # a save landing between that check and its own still sends some again (same ids:
    # RELIABILITY finding 20). tests/integration/test_paused_writer.py holds the check.
    return finish(ctx, run, verdict, outcome, allow_duplicate_alerts=True)


def _freeze_while_applying(run: ChaosRun, victim: WorkerProcess, timeout_s: float = 60) -> float:
    """SIGSTOP ``victim`` while it applies records: the stream's rest is published a little
    at a time until its count of applied events rises, so more is on its way to it when it
    is frozen, however fast it applied the first half (published whole, a short stream's
    rest took it a batch or two, and a freeze after it froze an idle worker). Its count
    then."""
    applied = "driftline_events_processed_total"
    last, deadline = victim.metric_total(applied), time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if run.rest:
            publish_records(run, run.rest[:_FREEZE_CHUNK])
            run.rest = run.rest[_FREEZE_CHUNK:]
        now = victim.metric_total(applied)
        if now > last:
            assert victim.pid is not None
            os.kill(victim.pid, signal.SIGSTOP)
            return now
        last = now
    raise DriftlineError(f"the paused worker applied nothing of the stream in {timeout_s:.0f} "
                         "s: nothing to freeze it in")  # fmt: skip


def unkeyed_3_workers(ctx: Context) -> Verdict:
    """The stream published without keys, so one model's events reach three workers."""
    run, verdict, outcome = run_stream(ctx, "unkeyed_3_workers", _no_fault, workers=3, keyed=False)
    drifted = {(m.model_id, s.feature) for m in run.stream.models for s in m.scenarios}
    return finish(ctx, run, verdict, outcome, drifted=drifted)


def _no_fault(run: ChaosRun, records: list) -> None:
    return None


def _in_stream(run: ChaosRun, fault_records: list, timeout_s: float = 120) -> float:
    """Publish ``fault_records`` once the first half is applied; seconds until the worker
    got past the last of them on every partition they went to."""
    run.wait_done(timeout_s=300)
    positions = publish_records(run, fault_records)
    started = time.monotonic()
    last: dict[int, int] = {}
    for partition, offset in positions:
        last[partition] = max(last.get(partition, -1), offset)

    def past() -> bool:
        # Applied, or refused where it was read: the routing stage dead-letters a record over
        # the size limit itself, and no later offset of its partition may come to show it.
        applied = run.applied()
        pending = {(p, o) for p, o in last.items() if applied.get(p, -1) < o}
        return not pending or pending <= run.dead_lettered()

    wait_for(past, timeout_s, "the worker to get past the fault's records")
    return time.monotonic() - started


def big_record(ctx: Context) -> Verdict:
    """A 4 MiB record (not an event) in the middle of the stream: dead-lettered whole."""

    def fault(run: ChaosRun, records: list) -> float:
        return _in_stream(run, [(b"chaos-big", b"\x01" * BIG_RECORD_BYTES)])

    return finish(ctx, *run_stream(ctx, "big_record", fault))


def flood_models(ctx: Context) -> Verdict:
    """5,000 one-event model ids mid-stream, then a legitimate new model: it gets a
    warm-up slot once the flood's warm-ups expire (``WARMUP_TIMEOUT_S``)."""

    def fault(run: ChaosRun, records: list) -> float:
        flood = [(f"flood-{n}".encode(), next(sample_events(f"flood-{n}", 1)))
                 for n in range(FLOOD_MODELS)]  # fmt: skip
        worker = run.workers[0]
        _in_stream(run, flood)
        started = time.monotonic()
        legit = sample_events("chaos-legit", 10_000, seed=5)

        def accepted() -> bool:
            run.publish([(b"chaos-legit", next(legit))])
            return worker.metric_total("driftline_events_processed_total", model="chaos-legit") > 0

        wait_for(accepted, WARMUP_TIMEOUT_S + 60, "the legitimate model's events", every_s=0.5)
        return time.monotonic() - started

    env = {"DRIFTLINE_WARMUP_TIMEOUT_S": str(WARMUP_TIMEOUT_S)}
    run, verdict, outcome = run_stream(ctx, "flood_models", fault, extra_env=env)
    verdict.notes.append(
        f"{outcome.forgotten} of them counted under model _forgotten (expired warm-ups)"
    )
    return finish(ctx, run, verdict, outcome)


def many_versions(ctx: Context) -> Verdict:
    """3,000 one-event versions of a monitored model mid-stream: past the version cap they
    are dead-lettered; the model's own version goes on as in the reference run."""

    def fault(run: ChaosRun, records: list) -> float:
        model = run.stream.models[0]
        key, value = keyed_events(model, 1)[0]
        versions = []
        for n in range(VERSIONS):
            event = orjson.loads(value)
            event.update(model_version=f"chaos-v{n}", event_id=f"chaos-version-{n}")
            versions.append((key, orjson.dumps(event)))
        return _in_stream(run, versions)

    return finish(ctx, *run_stream(ctx, "many_versions", fault))


def sigterm_restart(ctx: Context) -> Verdict:
    """SIGTERM the worker at 50% (a deployment) and start another: nothing may be lost."""

    def fault(run: ChaosRun, records: list) -> float:
        publish_records(run, run.rest)
        run.rest = []
        run.wait_fraction(0.5)
        return replace_worker(run, run.stop)

    return finish(ctx, *run_stream(ctx, "sigterm_restart", fault))


SCENARIOS: dict[str, Callable[[Context], Verdict]] = {
    "kill9_x3": kill9_x3,
    "switch_routing": switch_routing,
    "broker_restart": broker_restart,
    "broker_kill": lambda ctx: broker_restart(ctx, kill=True),
    "two_workers_kill": two_workers_kill,
    "paused_worker": paused_worker,
    "unkeyed_3_workers": unkeyed_3_workers,
    "big_record": big_record,
    "flood_models": flood_models,
    "many_versions": many_versions,
    "sigterm_restart": sigterm_restart,
}

#: The stated time to resume after each fault ends, in seconds.
RESUME_LIMIT_S = {
    "kill9_x3": 45.0,  # session time-out (3 s) + a worker's start-up
    "switch_routing": 45.0,
    "broker_restart": 60.0,
    "broker_kill": 90.0,  # the broker recovers its logs first
    "two_workers_kill": 30.0,
    "paused_worker": 30.0,  # the session time-out (3 s) + a rebalance
    "unkeyed_3_workers": 0.0,
    "big_record": 30.0,
    "flood_models": WARMUP_TIMEOUT_S + 30.0,
    "many_versions": 30.0,
    "sigterm_restart": 45.0,
}
