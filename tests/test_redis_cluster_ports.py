"""``free_node_ports``: cluster node ports whose bus ports are free too, below the range the
system hands out for outgoing connections (tests/integration/test_redis_cluster.py starts
clusters on them)."""

from __future__ import annotations

import socket

from streams.stack.redis_cluster import free_node_ports


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
