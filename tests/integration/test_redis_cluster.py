"""The worker on a real Redis Cluster (3 masters, 3 replicas): a drift stream is caught as on
one Redis, a master killed mid-stream is replaced by its replica while the worker carries on
with exact counts, and a restarted worker resumes from the cluster's state."""

from __future__ import annotations

import socket
import time

import orjson
import pytest

from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig
from streams.stack.errors import StackError
from streams.stack.redis_cluster import LocalCluster, free_node_ports
from streams.stack.worker import WorkerProcess
from tests.integration.conftest import (
    free_port,
    isolated_env,
    publish_stream,
    read_alerts,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

FIRST, SECOND, THIRD, DRIFT_AT = 1_500, 1_500, 1_000, 2_200
STREAM = StreamConfig(
    model_id="it-cluster",
    seed=11,
    scenarios=(Scenario(kind="abrupt", feature="x7", start=DRIFT_AT, magnitude=1.0),),
)


@pytest.fixture(scope="module")
def run(stack_config, tmp_path_factory):
    """One worker through a failover, then a second one after a restart: what they saw."""
    home = tmp_path_factory.mktemp("redis-cluster")
    cluster = LocalCluster(home, free_node_ports(6))
    cluster.start()
    env = isolated_env(stack_config, home / "faust") | {
        "DRIFTLINE_REDIS_URL": cluster.url,
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": "1000",
        "DRIFTLINE_WINDOW_EVENTS": "400",
    }
    settings = Settings.from_env(env)
    try:
        yield _drive(cluster, env, settings, home)
    finally:
        cluster.stop()


def _drive(cluster: LocalCluster, env: dict[str, str], settings: Settings, home) -> dict:
    first = WorkerProcess(env, web_port=free_port(), log_path=home / "first.log")
    first.start()
    try:
        publish_stream(settings, STREAM, FIRST)
        wait_until_processed(first, FIRST)
        # Not the URL's node: a client connecting later must find the cluster through it.
        victim = next(p for p in cluster.masters() if p != cluster.ports[0])
        killed = time.monotonic()
        cluster.kill(victim)
        publish_stream(settings, STREAM, SECOND, offset=FIRST)
        pause = cluster.wait_failover(victim)
        wait_until_processed(first, FIRST + SECOND)
        caught_up = time.monotonic() - killed
        counts = {
            "first": first.metric_total("driftline_events_processed_total"),
            "first_skipped": first.metric_total("driftline_replayed_records_skipped_total"),
        }
    finally:
        assert first.stop() == 0
    second = WorkerProcess(env, web_port=free_port(), log_path=home / "second.log")
    second.start()
    try:
        publish_stream(settings, STREAM, THIRD, offset=FIRST + SECOND)
        wait_until_processed(second, THIRD)
        counts["second"] = second.metric_total("driftline_events_processed_total")
        alerts = [orjson.loads(a.value) for a in read_alerts(settings)]
    finally:
        assert second.stop() == 0
    print(f"failover: replica promoted after {pause:.1f} s, worker caught up {caught_up:.1f} s"
          " after the kill")  # fmt: skip
    return {"counts": counts, "alerts": alerts, "failover_s": pause}


def test_every_event_applied_once_through_a_failover(run):
    counts = run["counts"]
    assert counts["first"] == FIRST + SECOND, "nothing lost, nothing doubled"
    assert counts["first_skipped"] == 0
    assert run["failover_s"] < 15


def test_a_restarted_worker_resumes_from_the_cluster(run):
    # Every record before the restart was committed or fenced: none applied again.
    assert run["counts"]["second"] == THIRD


def test_drift_is_caught_once_as_on_one_redis(run):
    drift = [a for a in run["alerts"] if a["type"] == "data_drift"]
    assert [(a["feature"], a["status"]) for a in drift] == [("x7", "firing")]
    trigger = int(drift[0]["trigger"]["event_id"].rsplit("-", 1)[1])
    assert DRIFT_AT < trigger <= DRIFT_AT + 1_000


def test_a_node_that_cannot_start_fails_the_start_at_once_and_leaves_none_running(tmp_path):
    taken, port = _bus_port_taken()
    with taken:
        cluster = LocalCluster(tmp_path, [port, *free_node_ports(1)])
        started = time.monotonic()
        with pytest.raises(StackError, match=f"node on port {port} exited: .*{port + 10000}"):
            cluster.start(timeout_s=30)
    assert time.monotonic() - started < 10  # not the 30 s wait for nodes that never answer
    assert cluster.alive() == []  # the node that did start was stopped


def _bus_port_taken() -> tuple[socket.socket, int]:
    """A listening socket on the cluster bus port (port + 10000) of a free ``port``."""
    [port] = free_node_ports(1)
    taken = socket.socket()
    taken.bind(("127.0.0.1", port + 10000))
    taken.listen()
    return taken, port
