"""Real Kafka and Redis for the integration tests, started by the project's own stack code.

Each test session gets its own topics, consumer group and Redis prefix, so runs never see each
other's records. A stack that was already up is used and left up, less the topics and keys of
the session's runs; one this session started lives in a state dir of its own, and is stopped
and deleted at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streams import stack
from streams.adapters.kafka.records import (
    ReadRecord,
    close_producers,
    end_offsets,
    publish,
    read_from,
)
from streams.settings import Settings
from streams.simulation import keyed_events
from streams.stack.worker import QUICK_SESSION_TIMEOUT_S, WorkerProcess, free_port, run_names


def session_stack() -> Iterator[stack.StackConfig]:
    """The servers of a test session: ``stack_config``, the fixture ``tests/conftest.py``
    makes of this, once for every folder (a second instance would clean up the first's)."""
    config = stack.StackConfig.from_env(os.environ)
    statuses = stack.status(config)
    if any(service.running for service in statuses):
        was_running = all(service.running for service in statuses)
        stack.up(config, log=print)
        yield config
        close_producers()
        _forget_runs(config, _RUNS)
        if not was_running:
            stack.down(config, log=print)
        return
    yield from _stack_of_its_own(config)


#: The runs this session named (``run_names``): their topics and keys go at its end.
_RUNS: set[str] = set()


def new_run_names() -> dict[str, str]:
    """``run_names`` of a new run, remembered to be deleted at the end of the session."""
    run = f"test-{uuid.uuid4().hex[:8]}"
    _RUNS.add(run)
    return run_names(run)


def _forget_runs(config: stack.StackConfig, runs: set[str]) -> None:
    """Delete the topics and Redis keys of ``runs`` from a stack the session found running
    (a session leaves ~570 topics: they slow the broker's every start)."""
    environ = {"DRIFTLINE_KAFKA_BOOTSTRAP": config.kafka_bootstrap}
    everyone = [Settings.from_env(environ | run_names(run)) for run in sorted(runs)]
    topics = [t for settings in everyone for t in (*settings.topics, *settings.internal_topics)]
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap})
    existing = set(admin.list_topics(timeout=30).topics)
    doomed = [topic for topic in topics if topic in existing]
    for future in (admin.delete_topics(doomed, operation_timeout=60) if doomed else {}).values():
        with contextlib.suppress(KafkaException):
            future.result()
    prefixes = tuple(f"{settings.redis_prefix}:".encode() for settings in everyone)
    client = redis.Redis.from_url(config.redis_url, socket_timeout=30)
    try:
        keys = [
            k for k in client.scan_iter("driftline-test-*", count=1000) if k.startswith(prefixes)
        ]
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
    finally:
        client.close()
    print(f"deleted the {len(doomed)} topics and {len(keys)} Redis keys of {len(runs)} test runs")


def _stack_of_its_own(config: stack.StackConfig):
    """Started by the session in a state dir of its own, exported to every process the tests
    start (workers, the chaos harness, the CLI) and deleted at the end.

    A session leaves ~570 topics on the broker. In the usual state dir they add up run after
    run, and a broker reloading them all answered only after its 60 s start timeout (CI of
    stop 39); nor should tests fill the stack a user keeps for the demo.
    """
    state_dir = Path(tempfile.mkdtemp(prefix="driftline-tests-"))
    config = dataclasses.replace(config, state_dir=state_dir)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DRIFTLINE_STATE_DIR", str(state_dir))
        try:
            stack.up(config, log=print)
            yield config
            close_producers()
        finally:
            stack.down(config, log=print)
            shutil.rmtree(state_dir, ignore_errors=True)


@contextlib.contextmanager
def redis_hung(stack_config):
    """Redis stops answering (SIGSTOP) without closing its connections, as on a hung host."""
    redis = stack.status(stack_config)[1]
    if redis.pid is None:
        pytest.skip("Redis was not started by the stack here; cannot hang it")
    os.kill(redis.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(redis.pid, signal.SIGCONT)


def isolated_env(stack_config, data_dir) -> dict[str, str]:
    """A worker environment with its own topics, consumer group and Redis prefix; a killed
    worker's partitions move after ``QUICK_SESSION_TIMEOUT_S``."""
    return {
        **os.environ,
        **new_run_names(),
        "DRIFTLINE_KAFKA_BOOTSTRAP": stack_config.kafka_bootstrap,
        "DRIFTLINE_REDIS_URL": stack_config.redis_url,
        "DRIFTLINE_PARTITIONS": "2",
        "DRIFTLINE_WARMUP_EVENTS": "50",
        "DRIFTLINE_SPEC_REFRESH_S": "0.5",
        "DRIFTLINE_SESSION_TIMEOUT_S": QUICK_SESSION_TIMEOUT_S,  # a killed worker noticed soon
        "DRIFTLINE_DATA_DIR": str(data_dir),
    }


@pytest.fixture(scope="session")
def worker_env(stack_config, tmp_path_factory) -> dict[str, str]:
    # The shared worker guards /metrics with a token, so every test that reads its metrics
    # goes through the check.
    environ = isolated_env(stack_config, tmp_path_factory.mktemp("faust"))
    return {**environ, "DRIFTLINE_WEB_TOKEN": uuid.uuid4().hex}


@pytest.fixture(scope="session")
def settings(worker_env) -> Settings:
    return Settings.from_env(worker_env)


@pytest.fixture(scope="session")
def worker(worker_env, tmp_path_factory):
    process = WorkerProcess(
        worker_env, web_port=free_port(), log_path=tmp_path_factory.mktemp("worker") / "log"
    )
    process.start()
    yield process
    assert process.stop() == 0, "the worker did not shut down cleanly"


def publish_stream(settings: Settings, stream, count: int, *, offset: int = 0) -> list:
    """Publish ``count`` simulated events of ``stream`` keyed by model; their positions."""
    records = keyed_events(stream, count, offset=offset)
    return publish(settings.kafka, settings.topic_predictions, records)


def wait_for(predicate, what: str, timeout_s: float = 60):
    """Poll ``predicate`` until it gives something true, and return that; fail the test
    naming ``what`` if it has not within ``timeout_s`` (which only bounds a broken run)."""
    deadline = time.monotonic() + timeout_s
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


def wait_for_metric(
    worker: WorkerProcess, name: str, count: float, timeout_s: float = 60, **labels: str
) -> None:
    """Until the worker's ``name`` (summed over the series matching ``labels``) reaches
    ``count``."""
    wait_for(
        lambda: worker.metric_total(name, **labels) >= count,
        f"{name} {labels or ''} to reach {count}",
        timeout_s,
    )


def wait_until_processed(worker: WorkerProcess, count: int, timeout_s: float = 60) -> None:
    wait_for_metric(worker, "driftline_events_processed_total", count, timeout_s)


def worker_through(env: dict[str, str], log_path, stream, count: int) -> WorkerProcess:
    """A started worker of ``env`` that has processed ``count`` published events of
    ``stream``."""
    worker = WorkerProcess(env, web_port=free_port(), log_path=log_path)
    worker.start()
    publish_stream(Settings.from_env(env), stream, count)
    wait_until_processed(worker, count)
    return worker


def wait_for_labels(worker: WorkerProcess, outcome: str, count: int, timeout_s: float = 60) -> None:
    """Until the worker has counted ``count`` labels of ``outcome`` (joined, duplicate...)."""
    wait_for_metric(worker, "driftline_labels_total", count, timeout_s, outcome=outcome)


def read_all(settings: Settings, topic: str) -> list[ReadRecord]:
    """Every record on ``topic`` now: up to its end offsets, read to the last one.

    Waits on a count, not a clock: callers first wait for what writes the records (the
    worker publishes a batch's alerts and dead letters before it counts the batch processed).
    """
    ends = end_offsets(settings.kafka, topic)
    due = sum(ends.values())
    start = dict.fromkeys(ends, 0)
    records = read_from(settings.kafka, topic, start, count=due, timeout_s=60)
    assert len(records) == due, f"read {len(records)} of the {due} records on {topic}"
    return records


def read_alerts(settings: Settings) -> list[ReadRecord]:
    """Everything on the alerts topic (the run's own)."""
    return read_all(settings, settings.topic_alerts)


def committed(settings: Settings) -> dict[int, int]:
    """The worker group's committed offset per predictions partition. A partition that never
    had a record has no commit (OFFSET_INVALID): it starts at 0."""
    consumer = Consumer(settings.kafka.confluent({"group.id": settings.app_id}))
    try:
        partitions = [
            TopicPartition(settings.topic_predictions, p) for p in range(settings.partitions)
        ]
        return {tp.partition: max(tp.offset, 0) for tp in consumer.committed(partitions, 10)}
    finally:
        consumer.close()
