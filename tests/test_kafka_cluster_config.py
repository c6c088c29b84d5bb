"""A local KRaft cluster's ports and the replication of the worker's topics, without a broker
(the cluster itself: tests/integration/test_broker_failover.py)."""

from __future__ import annotations

import pytest

from streams.adapters.kafka.admin import replication_for
from streams.settings import Settings
from streams.stack.config import KafkaNode, StackConfig


def test_one_broker_is_the_default_and_keeps_its_two_ports():
    config = StackConfig(kafka_port=7000, kafka_controller_port=7001)
    assert config.kafka_nodes == [KafkaNode(1, 7000, 7001)]
    assert config.kafka_bootstrap == "127.0.0.1:7000"


def test_three_nodes_take_consecutive_pairs_after_node_one():
    config = StackConfig.from_env({
        "DRIFTLINE_KAFKA_BROKERS": "3", "DRIFTLINE_KAFKA_PORT": "7000",
        "DRIFTLINE_KAFKA_CONTROLLER_PORT": "7001", "DRIFTLINE_KAFKA_NODE_PORTS": "7100",
    })  # fmt: skip
    assert config.kafka_nodes == [
        KafkaNode(1, 7000, 7001), KafkaNode(2, 7100, 7101), KafkaNode(3, 7102, 7103)
    ]  # fmt: skip
    # Every node, so a client starting while one is down still finds the others.
    assert config.kafka_bootstrap == "127.0.0.1:7000,127.0.0.1:7100,127.0.0.1:7102"


@pytest.mark.parametrize("count", [0, 2, 4, 6])
def test_only_odd_counts_up_to_five_are_accepted(count):
    with pytest.raises(ValueError, match=r"DRIFTLINE_KAFKA_BROKERS.*expected 1, 3 or 5"):
        StackConfig(kafka_brokers=count)


def test_node_ports_may_not_overlap_the_other_ports():
    # Nodes 2 and 3 would take 9092-9095: Kafka's own and the controller's.
    with pytest.raises(ValueError, match=r"DRIFTLINE_KAFKA_NODE_PORTS.*overlap.*KAFKA_PORT"):
        StackConfig(kafka_brokers=3, kafka_node_ports=9092)
    with pytest.raises(ValueError, match=r"DRIFTLINE_KAFKA_NODE_PORTS"):
        StackConfig(kafka_brokers=5, kafka_node_ports=65530)
    # One broker never uses them, so they are not checked.
    assert StackConfig(kafka_node_ports=9092).kafka_brokers == 1


def test_a_secure_stack_has_one_broker():
    with pytest.raises(ValueError, match="a secure stack has one broker"):
        StackConfig(kafka_brokers=3, secure=True)


@pytest.mark.parametrize(
    ("brokers", "factor", "in_sync", "expected"),
    [(1, 0, 0, (1, 1)), (2, 0, 0, (2, 1)), (3, 0, 0, (3, 2)), (5, 0, 0, (3, 2)),
     (3, 2, 0, (2, 1)), (5, 5, 3, (5, 3)), (0, 0, 0, (1, 1))],
)  # fmt: skip
def test_replication_is_derived_from_the_brokers_unless_set(brokers, factor, in_sync, expected):
    assert replication_for(brokers, factor, in_sync) == expected


def test_replication_settings_are_read_and_checked():
    settings = Settings.from_env(
        {"DRIFTLINE_REPLICATION_FACTOR": "3", "DRIFTLINE_MIN_INSYNC_REPLICAS": "2"}
    )
    assert (settings.replication_factor, settings.min_insync_replicas) == (3, 2)
    assert (Settings().replication_factor, Settings().min_insync_replicas) == (0, 0)
    with pytest.raises(ValueError, match="must not exceed DRIFTLINE_REPLICATION_FACTOR"):
        Settings(replication_factor=2, min_insync_replicas=3)
    with pytest.raises(ValueError, match="must not be negative"):
        Settings(replication_factor=-1)
