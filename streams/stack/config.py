"""Where the local Kafka broker and Redis server live: ports, directories, versions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from streams.env_reader import read_env, variable
from streams.stack.password import redis_password

_PORTS = ("kafka_port", "kafka_controller_port", "kafka_secure_port", "redis_port")
_DIRS = ("cache_dir", "state_dir")
# IPv6 literals would need brackets in Kafka listener strings; a hostname or IPv4 is enough here.
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
# The version ends up in a pom, a directory name and a classpath, so keep it to version-ish text.
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([.-][0-9A-Za-z]+)*$")
_HEAP = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
# Every node is a voter: an even count tolerates no more failures than one node fewer.
_BROKER_COUNTS = (1, 3, 5)


@dataclass(frozen=True, slots=True)
class KafkaNode:
    """One KRaft node (broker and controller in one process) of the local cluster."""

    node_id: int
    port: int
    controller_port: int


def _default_dir(*parts: str) -> Path:
    return Path.home().joinpath(*parts, "driftline")


def _where(name: str) -> str:
    return f"{name} ({variable(name)})"


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Settings of the local Kafka (one KRaft node, or a cluster of 3 or 5) and Redis server.

    Parameters
    ----------
    host
        Address both servers bind to and clients connect to.
    kafka_port, kafka_controller_port, kafka_secure_port, redis_port
        TCP ports; they must differ. The secure port is used only when ``secure``.
    cache_dir
        Machine-wide cache for the Kafka jars (outside the git tree, shared by checkouts).
    state_dir
        Data directories, generated configs, logs and pid files.
    kafka_version
        Apache Kafka release fetched from Maven Central.
    kafka_heap
        JVM heap of the broker, e.g. ``"512m"`` (used for both -Xms and -Xmx).
    kafka_brokers
        KRaft nodes to run: 1 (the default), 3 or 5. Each is a broker and a controller in
        one process; all are voters, so a 3-node cluster keeps its quorum and serves every
        partition with one node down. Node 1 uses ``kafka_port`` and
        ``kafka_controller_port``; node ``k >= 2`` uses ``kafka_node_ports + 2 * (k - 2)``
        and the port after it. Not with ``secure``.
    kafka_node_ports
        First of the ``2 * (kafka_brokers - 1)`` consecutive ports of nodes 2 and up.
    secure
        Give the broker a SASL_SSL listener (SCRAM-SHA-512) on ``kafka_secure_port`` beside
        the plain one; its data lives apart (``state_dir/kafka-secure``), see
        ``streams.stack.kafka``.
    """

    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_secure_port: int = 9094
    redis_port: int = 6379
    cache_dir: Path = field(default_factory=lambda: _default_dir(".cache"))
    state_dir: Path = field(default_factory=lambda: _default_dir(".local", "state"))
    kafka_version: str = "4.1.1"
    kafka_heap: str = "512m"
    kafka_brokers: int = 1
    kafka_node_ports: int = 9095
    secure: bool = False

    def __post_init__(self) -> None:
        if not _HOST.match(self.host):
            raise ValueError(f"{_where('host')}: {self.host!r} is not a hostname or IPv4 address")
        for name in _PORTS:
            _check_port(name, getattr(self, name))
        if len({getattr(self, name) for name in _PORTS}) != len(_PORTS):
            ports = ", ".join(f"{_where(n)}={getattr(self, n)}" for n in _PORTS)
            raise ValueError(f"the ports must differ: {ports}")
        for name in _DIRS:
            # Absolute, because the paths are handed to servers running in other directories.
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser().absolute())
        if not _VERSION.match(self.kafka_version):
            raise ValueError(f"{_where('kafka_version')}: {self.kafka_version!r} is not a version")
        if not _HEAP.match(self.kafka_heap):
            raise ValueError(
                f"{_where('kafka_heap')}: {self.kafka_heap!r} is not a JVM size such as 512m or 1g"
            )
        self._check_nodes()

    def _check_nodes(self) -> None:
        if self.kafka_brokers not in _BROKER_COUNTS:
            raise ValueError(
                f"{_where('kafka_brokers')}={self.kafka_brokers!r}: expected 1, 3 or 5"
            )
        if self.kafka_brokers == 1:
            return
        if self.secure:
            raise ValueError(f"{_where('kafka_brokers')}: a secure stack has one broker")
        extra = range(self.kafka_node_ports, self.kafka_node_ports + 2 * (self.kafka_brokers - 1))
        _check_port("kafka_node_ports", extra.stop - 1)
        _check_port("kafka_node_ports", extra.start)
        taken = [n for n in _PORTS if getattr(self, n) in extra]
        if taken:
            raise ValueError(
                f"{_where('kafka_node_ports')}: ports {extra.start}-{extra.stop - 1} of nodes 2-"
                f"{self.kafka_brokers} overlap {', '.join(_where(n) for n in taken)}"
            )

    @property
    def kafka_nodes(self) -> list[KafkaNode]:
        """The KRaft nodes, node 1 first (ports as documented under ``kafka_brokers``)."""
        nodes = [KafkaNode(1, self.kafka_port, self.kafka_controller_port)]
        for k in range(2, self.kafka_brokers + 1):
            port = self.kafka_node_ports + 2 * (k - 2)
            nodes.append(KafkaNode(k, port, port + 1))
        return nodes

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, secure: bool = False) -> StackConfig:
        """Build a config from ``DRIFTLINE_*`` variables, defaults for the ones not set.

        Parameters
        ----------
        env
            Usually ``os.environ``; empty values count as not set. Each field ``name`` is
            read from ``DRIFTLINE_<NAME>`` by ``streams.env_reader``.
        secure
            ``driftline stack up --secure``: add the SASL_SSL listener.

        Returns
        -------
        StackConfig

        Raises
        ------
        ValueError
            If a variable holds an invalid value; the message names the variable.
        """
        # ``secure`` is the command's flag, not a variable.
        return cls(**read_env(cls, env, skip=("secure",)), secure=secure)

    @property
    def kafka_bootstrap(self) -> str:
        """``host:port,...`` of every node, for Kafka clients' ``bootstrap.servers``.

        All of them, so a client that starts while one node is down still finds the others.
        """
        return ",".join(f"{self.host}:{node.port}" for node in self.kafka_nodes)

    @property
    def redis_password(self) -> str:
        """The local Redis's password (user ``default``), created on first use."""
        return redis_password(self.state_dir)

    @property
    def kafka_secure_bootstrap(self) -> str:
        """``host:port`` of the SASL_SSL listener (``secure`` stacks only)."""
        return f"{self.host}:{self.kafka_secure_port}"

    @property
    def redis_url(self) -> str:
        """``redis://default:PASSWORD@host:port/0``: database 0, authenticated."""
        return f"redis://default:{self.redis_password}@{self.host}:{self.redis_port}/0"


def _check_port(name: str, value: object) -> None:
    # bool is an int subclass; True is not a port.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{_where(name)}={value!r}: expected a port number 1-65535")
