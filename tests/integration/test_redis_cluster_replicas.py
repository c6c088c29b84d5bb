"""``DRIFTLINE_REDIS_REPLICAS`` on a real Redis Cluster (3 masters, 3 replicas, Debian's
redis-server): a batch is committed to Kafka only once a replica of every primary holds its
writes. While the replica of the primary that serves the model's keys is frozen (SIGSTOP),
the worker applies the new records but commits none of them; once it is back, the commits
move to the end and every event was applied once. (Before, the setting was refused with a
cluster: each primary replicates apart, and ``WAIT`` answers for one.)"""

from __future__ import annotations

import pytest
from redis.cluster import RedisCluster

from streams.simulation import StreamConfig
from streams.stack.redis_cluster import LocalCluster, free_node_ports
from tests.integration.test_redis_replicas import commits_wait_for_a_replica

pytestmark = pytest.mark.integration

STREAM = StreamConfig(model_id="it-cluster-replicas", seed=7)


@pytest.fixture
def cluster(stack_config, tmp_path):
    cluster = LocalCluster(tmp_path / "redis-cluster", free_node_ports(6))
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
    replica = cluster.replica_of(master_serving(cluster, STREAM.model_id))
    commits_wait_for_a_replica(
        stack_config, tmp_path, cluster.url, STREAM,
        freeze=lambda: cluster.pause(replica), thaw=lambda: cluster.resume(replica),
    )  # fmt: skip
