"""Every Redis key a worker writes, garbled, and a new worker must still process its events.

A first worker runs a model through its reference and first windows (predictions, then
labels, so the label join's keys exist too), and its keys are listed. Then, for each key
and each of three garbage values of other shapes (``b"garbage"``, ``b"[1,2]"``,
``b'{"version": 3}'``): a fresh run makes the same keys, the key is overwritten (a string
replaced; every field of a hash, every member's value of a sorted set), and a new worker
must take 500 more events, their labels and the labels of the first worker's last 500
(joined to what it kept) within 45 s, still running. RELIABILITY.md
(findings 31-33) has what it found; each was a worker restarting an agent into the same
failing batch for ever.

Run on the dev stack (``driftline stack up``), ~30 min a mode:

    .venv/bin/python -m loadtest.garbled_keys [--routing direct] [--only roads offsets]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

from loadtest.leftovers import forget_run
from streams import stack
from streams.adapters.kafka.admin import ensure_worker_topics
from streams.adapters.kafka.records import publish
from streams.settings import Settings
from streams.simulation import StreamConfig, generate_events, keyed_events, keyed_labels
from streams.stack.worker import QUICK_SESSION_TIMEOUT_S, WorkerProcess, free_port, run_names

GARBAGE = (b"garbage", b"[1,2]", b'{"version": 3}')
STREAM = StreamConfig(model_id="garbled", seed=1)
FIRST, MORE = 3_000, 500


def environment(routing: str) -> dict[str, str]:
    """A worker's settings on the dev stack, with names of a run of their own."""
    config = stack.StackConfig.from_env(os.environ)
    return {**os.environ, **run_names(f"garbled-{uuid.uuid4().hex[:6]}"),
            "DRIFTLINE_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
            "DRIFTLINE_REDIS_URL": config.redis_url, "DRIFTLINE_PARTITIONS": "2",
            "DRIFTLINE_WARMUP_EVENTS": "50", "DRIFTLINE_REFERENCE_EVENTS": "1000",
            "DRIFTLINE_WINDOW_EVENTS": "500", "DRIFTLINE_ROUTING": routing,
            "DRIFTLINE_SESSION_TIMEOUT_S": QUICK_SESSION_TIMEOUT_S}  # fmt: skip


def feed(env: dict[str, str], log: Path, events: range, labelled: range) -> tuple[float, bool]:
    """Run a worker over ``events`` and the labels of ``labelled`` (some may be of events
    an earlier worker kept); what it took of both and whether it still ran."""
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=log)
    worker.start()
    try:
        publish(settings.kafka, settings.topic_predictions,
                keyed_events(STREAM, len(events), offset=events.start))  # fmt: skip
        chunks = generate_events(STREAM, len(labelled), offset=labelled.start)
        publish(settings.kafka, settings.topic_labels,
                [r for chunk in chunks for r in keyed_labels(STREAM, chunk)])  # fmt: skip
        deadline, taken, due = time.monotonic() + 45, 0.0, len(events) + len(labelled)
        while taken < due and time.monotonic() < deadline and worker.running:
            taken = worker.events_taken() + worker.metric_total("driftline_labels_total")
            time.sleep(0.3)
        return taken, worker.running
    finally:
        worker.stop()


def shape(key: str, run: str) -> str:
    """A key with its run's names and numbers (time buckets) taken out, to find it again."""
    return re.sub(r"\d+", "#", key.replace(run, "RUN"))


def garble(client: redis.Redis, key: str, garbage: bytes) -> None:
    kind = client.type(key).decode()
    if kind == "string":
        client.set(key, garbage, keepttl=True)
    elif kind == "hash":
        client.hset(key, mapping=dict.fromkeys(client.hkeys(key), garbage))
    elif kind == "zset":
        client.zadd(key, {garbage: 1})
    else:
        raise ValueError(f"{key}: a {kind}, which no worker writes")


def keys_of(client: redis.Redis, env: dict[str, str]) -> dict[str, str]:
    """The run's keys by their shape."""
    prefix, run = Settings.from_env(env).redis_prefix, env["DRIFTLINE_APP_ID"].split("-", 1)[1]
    return {shape(k.decode(), run): k.decode() for k in client.scan_iter(f"{prefix}:*")}


def first_run(env: dict[str, str], logs: Path) -> None:
    ensure_worker_topics(Settings.from_env(env))
    # The last events' labels are left for the second worker, to join what this one kept.
    taken, running = feed(env, logs / "first.log", range(FIRST), range(FIRST - MORE))
    if taken < 2 * FIRST - MORE or not running:
        sys.exit(
            f"the first run took {taken:.0f} events and labels of {2 * FIRST - MORE}: see {logs}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routing", choices=("repartition", "direct"), default="repartition")
    parser.add_argument("--only", nargs="*", default=(), help="keys whose name holds one of these")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="garbled-"))
    client = redis.Redis.from_url(stack.StackConfig.from_env(os.environ).redis_url)
    env = environment(args.routing)
    first_run(env, logs)
    shapes = sorted(
        s for s in keys_of(client, env) if not args.only or any(o in s for o in args.only)
    )
    forget_run(Settings.from_env(env))
    failed = []
    for number, key_shape in enumerate(shapes):
        for garbage in GARBAGE:
            env = environment(args.routing)
            first_run(env, logs)
            key = keys_of(client, env).get(key_shape)
            if key is None:  # a key this run did not make (a bucket of another time)
                print(f"skipped {key_shape}: not made this run", flush=True)
                continue
            garble(client, key, garbage)
            log = logs / f"{number}-{GARBAGE.index(garbage)}.log"
            taken, running = feed(env, log, range(FIRST, FIRST + MORE),
                                  range(FIRST - MORE, FIRST + MORE))  # fmt: skip
            verdict = "ok" if taken >= 3 * MORE and running else "FAILED"
            print(f"{verdict:6} {key_shape} {garbage!r}: took {taken:.0f} of {3 * MORE}",
                  flush=True)  # fmt: skip
            if verdict != "ok":
                failed.append((key_shape, garbage))
            forget_run(Settings.from_env(env))
    print(f"{len(failed)} failed; worker logs in {logs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
