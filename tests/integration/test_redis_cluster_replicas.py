"""``DRIFTLINE_REDIS_REPLICAS`` on a real Redis Cluster (3 masters, 3 replicas, Debian's
redis-server): a batch is committed to Kafka only once a replica of every primary holds its
writes. While the replica of the primary that serves the model's keys is frozen (SIGSTOP),
the worker applies the new records but commits none of them; once it is back, the commits
move to the end and every event was applied once. (Before, the setting was refused with a
cluster: each primary replicates apart, and ``WAIT`` answers for one.)"""

from __future__ import annotations

import time

import pytest
from redis.cluster import RedisCluster

from streams.adapters.kafka.records import end_offsets
from streams.settings import Settings
from streams.simulation import StreamConfig
from streams.stack.redis_cluster import LocalCluster
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

STREAM = StreamConfig(model_id="it-cluster-replicas", seed=7)


@pytest.fixture
def cluster(stack_config, tmp_path):
    # Six ports after test_redis_cluster's (each cluster bus on port + 10000).
    first = stack_config.redis_port + 7
    cluster = LocalCluster(tmp_path / "redis-cluster", range(first, first + 6))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def master_serving(cluster: LocalCluster, model_id: str) -> int:
    """The port of the master serving ``model_id``'s keys (its hash tag)."""
    client = RedisCluster(host=cluster.host, port=cluster.alive()[0], socket_timeout=2)
    try:
        node = client.get_node_from_key(f"{{{model_id}}}")
        assert node is not None
        return int(node.port)
    finally:
        client.close()


def test_no_batch_is_committed_before_every_primarys_replica_holds_it(
    stack_config, tmp_path, cluster
):
    env = isolated_env(stack_config, tmp_path / "faust") | {
        "DRIFTLINE_REDIS_URL": cluster.url,
        "DRIFTLINE_REDIS_REPLICAS": "1",
        "DRIFTLINE_REDIS_REPLICAS_TIMEOUT_MS": "200",
        "DRIFTLINE_ROUTING": "keyed",  # the input topic's own commits
        "DRIFTLINE_COMMIT_INTERVAL_S": "0.5",  # a commit too early would show soon
    }
    settings = Settings.from_env(env)
    replica = cluster.replica_of(master_serving(cluster, STREAM.model_id))
    worker = WorkerProcess(env, web_port=free_port(), log_path=tmp_path / "worker.log")
    worker.start()
    try:
        publish_stream(settings, STREAM, 300)
        wait_until_processed(worker, 300)
        before = end_offsets(settings.kafka, settings.topic_predictions)
        wait_for(lambda: committed(settings) == before, "the first records committed")

        cluster.pause(replica)
        publish_stream(settings, STREAM, 200, offset=300)
        wait_until_processed(worker, 500)  # applied on the primaries, not acked
        wait_for(lambda: worker.metric_total("driftline_retries_total", target="redis") >= 3,
                 "the replica waits retried")  # fmt: skip
        time.sleep(1.5)  # three commit intervals: a commit of the new records would be here
        assert committed(settings) == before, "committed before the replica had the writes"

        cluster.resume(replica)
        ends = end_offsets(settings.kafka, settings.topic_predictions)
        wait_for(lambda: committed(settings) == ends, "the commits moved on")
        assert worker.metric_total("driftline_events_processed_total") == 500, "applied once"
    finally:
        assert worker.stop() == 0
