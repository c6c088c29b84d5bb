"""``DRIFTLINE_REDIS_REPLICAS``: a batch is committed to Kafka only once Redis's replicas
hold its writes. Against a real primary and replica (Debian's redis-server, started here):
while the replica is frozen (SIGSTOP) the worker applies the new records but commits none
of them and counts its retries; once the replica is back, the commits move to the end and
every event was applied once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from streams.adapters.kafka.records import end_offsets
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack import debian
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    committed,
    free_port,
    isolated_env,
    publish_stream,
    wait_until_processed,
)
from tests.integration.test_durability import wait_for

pytestmark = pytest.mark.integration


def _server(home: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    args = [debian.redis_server(print), "--port", str(port), "--bind", "127.0.0.1",
            "--dir", str(home), "--logfile", str(home / "redis.log"), "--save", "",
            "--appendonly", "no", "--repl-diskless-sync-delay", "0", *extra]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL)


@pytest.fixture
def primary_and_replica(tmp_path):
    """``(primary port, replica process)``, the replica in sync."""
    primary_port, replica_port = free_port(), free_port()
    primary = _server(tmp_path / "primary", primary_port)
    replica = _server(tmp_path / "replica", replica_port, "--replicaof", "127.0.0.1",
                      str(primary_port))  # fmt: skip
    try:
        client = redis.Redis(port=replica_port, socket_timeout=2)
        wait_for(lambda: _in_sync(client), "the replica in sync", timeout_s=30)
        yield primary_port, replica
    finally:
        for process in (replica, primary):
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            process.wait(10)


def _in_sync(client: redis.Redis) -> bool:
    try:
        return client.info("replication").get("master_link_status") == "up"
    except redis.RedisError:
        return False


def test_no_batch_is_committed_before_a_replica_holds_its_writes(
    stack_config, tmp_path, primary_and_replica
):
    primary_port, replica = primary_and_replica
    commits_wait_for_a_replica(
        stack_config, tmp_path, f"redis://127.0.0.1:{primary_port}/0",
        StreamConfig(model_id="it-replicas", seed=5),
        freeze=lambda: os.kill(replica.pid, signal.SIGSTOP),
        thaw=lambda: os.kill(replica.pid, signal.SIGCONT),
    )  # fmt: skip


def commits_wait_for_a_replica(
    stack_config,
    tmp_path: Path,
    redis_url: str,
    stream: StreamConfig,
    *,
    freeze: Callable[[], None],
    thaw: Callable[[], None],
) -> None:
    """A worker on ``redis_url`` with ``DRIFTLINE_REDIS_REPLICAS=1`` commits 300 events;
    with a replica frozen (``freeze``) it applies 200 more and commits none of them, its
    waits retried; thawed, it commits them all, every event applied once."""
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_REDIS_URL": redis_url,
        "DRIFTLINE_REDIS_REPLICAS": "1",
        "DRIFTLINE_REDIS_REPLICAS_TIMEOUT_MS": "200",
        "DRIFTLINE_ROUTING": "keyed",  # the input topic's own commits
        "DRIFTLINE_COMMIT_INTERVAL_S": "0.5",  # a commit too early would show soon
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, stream, 300)
        wait_until_processed(worker, 300)
        before = end_offsets(settings.kafka, settings.topic_predictions)
        wait_for(lambda: committed(settings) == before, "the first records committed")

        freeze()
        publish_stream(settings, stream, 200, offset=300)
        wait_until_processed(worker, 500)  # applied on the primary, not acked
        wait_for(lambda: worker.metric_total("driftline_retries_total", target="redis") >= 3,
                 "the replica waits retried")  # fmt: skip
        time.sleep(1.5)  # three commit intervals: a commit of the new records would be here
        assert committed(settings) == before, "committed before the replica had the writes"

        thaw()
        ends = end_offsets(settings.kafka, settings.topic_predictions)
        wait_for(lambda: committed(settings) == ends, "the commits moved on")
        assert worker.metric_total("driftline_events_processed_total") == 500, "applied once"
    finally:
        assert worker.stop() == 0
