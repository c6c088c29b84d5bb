"""Ports for servers the tests start, below the range the system hands out for outgoing
connections: ``free_node_ports`` (Redis Cluster nodes whose bus ports are free too,
tests/integration/test_redis_cluster.py) and ``free_port_run`` (a 3-node Kafka's,
tests/integration/test_broker_failover.py)."""

from __future__ import annotations

import socket

from streams.stack.redis_cluster import free_node_ports
from streams.stack.worker import free_port_run


def test_ports_and_their_bus_ports_can_be_bound_below_the_ephemeral_range():
    ports = free_node_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        assert port + 10000 < 32768
        for each in (port, port + 10000):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", each))


def test_a_port_whose_bus_port_is_taken_is_passed_over():
    [first] = free_node_ports(1)
    with socket.socket() as bus:
        bus.bind(("127.0.0.1", first + 10000))
        bus.listen()
        again = free_node_ports(3)
    assert first not in again
    assert again == sorted(again) and again[0] > first


def test_a_run_of_ports_can_be_bound_below_the_ephemeral_range():
    first = free_port_run(6)
    assert first >= 23000 and first + 6 <= 32768
    for port in range(first, first + 6):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_a_run_with_a_taken_port_is_passed_over():
    first = free_port_run(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first + 1))
        taken.listen()
        again = free_port_run(3)
    assert first + 1 not in range(again, again + 3)
