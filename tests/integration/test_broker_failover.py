"""One broker of a 3-node KRaft cluster is killed (SIGKILL) mid-stream: the worker carries on,
every event is applied once, nothing is dead-lettered, the drift alert fires once; the
broker then restarts and rejoins.

The cluster is a second Kafka, started by the fixture on free ports in a state dir of its
own; Redis is the session's. The node killed is the leader of partition 0 of the topic the
monitors read: it holds the records being applied, and maybe the group's coordinator or the
active controller too (every node is a voter, so the other two keep the quorum whichever it
is). ``pytest -s`` prints how long the worker paused (the BENCHMARKS.md row).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import orjson
import pytest

from streams import stack
from streams.adapters.kafka.admin import connect_admin, topic_configs
from streams.adapters.kafka.records import close_producers, end_offsets
from streams.settings import Settings
from streams.simulation import Scenario, StreamConfig
from streams.stack.worker import WorkerProcess, free_port, free_port_run
from tests.integration.conftest import isolated_env, publish_stream, read_alerts

pytestmark = pytest.mark.integration

EVENTS, BEFORE_KILL, DRIFT_AT, WINDOW, REFERENCE = 4_000, 2_000, 2_500, 500, 1_000
STREAM = StreamConfig(
    model_id="it-failover",
    seed=14,
    scenarios=(Scenario(kind="abrupt", feature="x4", start=DRIFT_AT, magnitude=1.5),),
)


@pytest.fixture(scope="module")
def cluster(stack_config, tmp_path_factory):
    first = free_port_run(6)  # node 1's two ports, then nodes 2 and 3's
    nodes = first + 2
    config = dataclasses.replace(
        stack_config,
        kafka_brokers=3,
        kafka_port=first,
        kafka_controller_port=first + 1,
        kafka_node_ports=nodes,
        kafka_heap="384m",
        state_dir=tmp_path_factory.mktemp("cluster"),
    )
    stack.up(config, log=print)  # Redis: the session's, reused and left alone
    yield config
    close_producers()
    stack.down(config, log=print)


def test_a_broker_killed_mid_stream_loses_and_doubles_nothing(cluster, stack_config, tmp_path):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_KAFKA_BOOTSTRAP": cluster.kafka_bootstrap,
        "DRIFTLINE_WARMUP_EVENTS": "100",
        "DRIFTLINE_REFERENCE_EVENTS": str(REFERENCE),
        "DRIFTLINE_WINDOW_EVENTS": str(WINDOW),
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        _assert_replicated(settings)
        publish_stream(settings, STREAM, BEFORE_KILL)
        _progress(worker, BEFORE_KILL // 3)  # mid-stream: the worker is still applying
        victim = _kill_leader(cluster, settings)
        killed_at = time.monotonic()
        publish_stream(settings, STREAM, EVENTS - BEFORE_KILL, offset=BEFORE_KILL)
        pause = _progress(worker, EVENTS, since=killed_at)
        time.sleep(2)  # a duplicate applied late would show in the count now
        assert worker.metric_total("driftline_events_processed_total") == EVENTS
        assert worker.health()[0] == 200
        skipped = worker.metric_total("driftline_replayed_records_skipped_total")
        letters = read_alerts(settings)
        assert sum(end_offsets(settings.kafka, settings.topic_dlq).values()) == 0
    finally:
        assert worker.stop() == 0
    print(f"\nbroker failover: killed node {victim}; longest pause in progress {pause:.1f} s;"
          f" {skipped:.0f} re-sent copies skipped")  # fmt: skip

    assert _stored_events(stack_config, settings) == EVENTS
    alerts = [orjson.loads(letter.value) for letter in letters]
    assert len({a["alert_id"] for a in alerts}) == len(alerts), "an alert was published twice"
    drift = [a for a in alerts if a["type"] == "data_drift"]
    assert [(a["feature"], a["status"]) for a in drift] == [("x4", "firing")]

    statuses = stack.up(cluster, log=print)  # starts the killed node again
    assert all(s.running for s in statuses), [s.describe() for s in statuses]
    _wait_in_sync(settings, replicas=3)


def test_a_sigterm_with_every_broker_hung_stops_the_worker_within_the_grace_period(
    cluster, stack_config, tmp_path
):
    """Kubernetes SIGKILLs a pod 30 s after its SIGTERM (k8s/): a worker whose brokers do
    not answer (here SIGSTOPped, connections open) must be gone well before that. It took
    60 s before, waiting for its consumer thread's last commit, then 11 s (5 s for each of
    two waits on Kafka)."""
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_KAFKA_BOOTSTRAP": cluster.kafka_bootstrap,
        "DRIFTLINE_WARMUP_EVENTS": "100",
    }
    settings = Settings.from_env(env)
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    brokers = [s.pid for s in stack.status(cluster) if s.name.startswith("kafka") and s.pid]
    assert len(brokers) == 3
    try:
        publish_stream(settings, STREAM, 300)
        _progress(worker, 300)
        for pid in brokers:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(1)  # the worker's next requests now hang
        started = time.monotonic()
        assert worker.stop(timeout_s=60) == 0
        stopped_s = time.monotonic() - started
    finally:
        for pid in brokers:
            os.kill(pid, signal.SIGCONT)
        worker.kill()
    print(f"\nstopped {stopped_s:.1f} s after SIGTERM with every broker hung")
    # One budget for every wait on Kafka (5 s), the floor of 1 s for the step after it, and
    # the process's own exit; the two waits each took 5 s before (11.4 s in all).
    assert stopped_s < 10, f"the worker took {stopped_s:.1f} s to stop"
    log = (tmp_path / "worker.log").read_text()
    assert "stopping without a last commit (Kafka did not answer within 5.0 s)" in log
    assert "the Kafka consumer did not stop within 1.0 s" in log
    assert "Traceback" not in log, "a hung stop is one warning, not a crash's traceback"


def _assert_replicated(settings: Settings) -> None:
    """Each of the worker's topics: 3 replicas per partition, 2 of them must be in sync."""
    admin = connect_admin(settings.kafka)
    names = [*settings.topics, *settings.internal_topics]
    metadata = admin.list_topics(timeout=10).topics
    for name in names:
        assert {len(p.replicas) for p in metadata[name].partitions.values()} == {3}, name
    configs = topic_configs(admin, names)
    assert {configs[name]["min.insync.replicas"] for name in names} == {"2"}


def _kill_leader(cluster: stack.StackConfig, settings: Settings) -> int:
    """SIGKILL the node leading partition 0 of the monitored topic; its node id."""
    admin = connect_admin(settings.kafka)
    topic = admin.list_topics(timeout=10).topics[settings.monitored(settings.topic_predictions)]
    leader = topic.partitions[0].leader
    [node] = [s for s in stack.status(cluster) if s.name == f"kafka-{leader}"]
    assert node.pid is not None, node.describe()
    os.kill(node.pid, signal.SIGKILL)
    return leader


def _progress(worker: WorkerProcess, count: int, *, since: float | None = None) -> float:
    """Wait until ``count`` events are processed; the longest stretch without progress after
    ``since`` (the broker's death), in seconds."""
    start = time.monotonic() if since is None else since
    deadline, last, last_change, longest = start + 120, -1.0, start, 0.0
    while (done := worker.metric_total("driftline_events_processed_total")) < count:
        now = time.monotonic()
        assert now < deadline, f"the worker processed {done} of {count} events in time"
        if done != last:
            longest, last, last_change = max(longest, now - last_change), done, now
        time.sleep(0.1)
    return max(longest, time.monotonic() - last_change)


def _stored_events(stack_config: stack.StackConfig, settings: Settings) -> int:
    """Events the stored state of the stream's model counts: reference, closed windows and
    the open one."""
    import redis

    client = redis.Redis.from_url(stack_config.redis_url)
    try:
        [key] = client.keys(f"{settings.redis_prefix}:{{{STREAM.model_id}}}:state:*")
        state = orjson.loads(client.get(key))
    finally:
        client.close()
    return state["reference_count"] + state["windows_closed"] * WINDOW + state["window_count"]


def _wait_in_sync(settings: Settings, *, replicas: int, timeout_s: float = 60) -> None:
    """Until every partition of the monitored topic has ``replicas`` in-sync replicas."""
    admin = connect_admin(settings.kafka)
    name = settings.monitored(settings.topic_predictions)
    deadline = time.monotonic() + timeout_s
    while True:
        partitions = admin.list_topics(name, timeout=10).topics[name].partitions.values()
        if all(len(p.isrs) == replicas for p in partitions):
            return
        assert time.monotonic() < deadline, "the restarted broker did not catch up in time"
        time.sleep(0.5)
