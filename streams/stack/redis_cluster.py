"""A local Redis Cluster from Debian's redis-server: 3 masters, 3 replicas, for tests.

Each node runs in ``<home>/<port>/`` (config ``nodes.conf``, data, log) with
``--cluster-enabled yes`` on loopback (the cluster bus on port + 10000); ``redis-cli
--cluster create ... --cluster-replicas 1`` joins them. No password: it listens on
loopback only and lives as long as a test module. ``DRIFTLINE_REDIS_URL`` for it is
``url``: ``redis+cluster://host:first port``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from streams.stack import debian
from streams.stack.errors import StackError
from streams.stack.worker import port_is_free

__all__ = ["LocalCluster", "free_node_ports"]

#: Where ``free_node_ports`` looks: a node and its cluster bus (port + 10000) both below the
#: ephemeral range (32768 up on Linux), where the system hands out the ports of outgoing
#: connections and of ``bind(0)``, so nothing takes a bus port between probe and start.
_NODE_PORTS = range(7000, 22768)
_BUS_OFFSET = 10000


def free_node_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` ports free now whose cluster bus ports are free too."""
    ports: list[int] = []
    for port in _NODE_PORTS:
        if port_is_free(host, port) and port_is_free(host, port + _BUS_OFFSET):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise StackError(f"fewer than {count} free redis cluster ports in {_NODE_PORTS}")


@dataclass
class LocalCluster:
    """Redis nodes on ``ports`` under ``home``: ``start`` them, ``stop`` them."""

    home: Path
    ports: Sequence[int]
    host: str = "127.0.0.1"
    replicas: int = 1
    _processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis+cluster://{self.host}:{self.ports[0]}"

    def start(self, *, log: Callable[[str], None] = print, timeout_s: float = 30.0) -> None:
        """Start every node, create the cluster, wait until every slot is served. If that
        fails, the nodes started are stopped (a caller's teardown never runs for a fixture
        whose setup failed)."""
        try:
            self._start(log, timeout_s)
        except BaseException:
            self.stop()
            raise

    def _start(self, log: Callable[[str], None], timeout_s: float) -> None:
        binary = debian.redis_server(log)
        for port in self.ports:
            node = self.home / str(port)
            shutil.rmtree(node, ignore_errors=True)  # a fresh cluster: no old nodes.conf
            node.mkdir(parents=True)
            args = [binary, "--port", str(port), "--bind", self.host, "--cluster-enabled",
                    "yes", "--cluster-config-file", str(node / "nodes.conf"), "--dir",
                    str(node), "--logfile", str(node / "redis.log"), "--appendonly", "no",
                    "--save", "", "--cluster-node-timeout", "1000",
                    "--repl-diskless-sync-delay", "0"]  # fmt: skip
            self._processes[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        self._wait(self._all_answer, timeout_s, "nodes")
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        nodes = [f"{self.host}:{port}" for port in self.ports]
        subprocess.run([cli, "--cluster", "create", *nodes, "--cluster-replicas",
                        str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=timeout_s)  # fmt: skip
        # A replica that never finished its first sync refuses to take over ("disconnected from
        # master for longer than allowed"): the cluster is up once every replica is in sync.
        self._wait(lambda: self.healthy() and self._replicas_in_sync(), timeout_s, "cluster")
        log(f"redis cluster up on {', '.join(nodes)}")

    def healthy(self) -> bool:
        """Every slot served and every node's view agrees (``cluster_state:ok``)."""
        alive = [p for p in self.alive() if self._answers(p)]
        try:
            return all(
                _client(self.host, p).cluster("info").get("cluster_state") == "ok" for p in alive
            )
        except (redis.RedisError, OSError):
            return False

    def masters(self) -> list[int]:
        """Ports of the nodes that are masters now."""
        client = RedisCluster(host=self.host, port=self.alive()[0], socket_timeout=2)
        try:
            return sorted(node.port for node in client.get_primaries())
        finally:
            client.close()

    def alive(self) -> list[int]:
        return [p for p, proc in self._processes.items() if proc.poll() is None]

    def kill(self, port: int) -> None:
        """Kill one node at once (SIGKILL): its replica must take over."""
        process = self._processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def pause(self, port: int) -> None:
        """Freeze one node (SIGSTOP): it neither answers nor replicates until ``resume``."""
        self._processes[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self._processes[port].send_signal(signal.SIGCONT)

    def replica_of(self, port: int) -> int:
        """The port of a replica of the master ``port``."""
        for other in self.alive():
            role = _client(self.host, other).info("replication")
            if role.get("role") == "slave" and int(role.get("master_port", 0)) == port:
                return other
        raise StackError(f"no replica of the redis cluster node on port {port}")

    def wait_failover(self, port: int, *, timeout_s: float = 30.0) -> float:
        """Wait until a replica has replaced the killed master ``port``; the seconds it took."""
        started = time.monotonic()
        self._wait(lambda: self._replaced(port) and self.healthy(), timeout_s, "failover")
        return time.monotonic() - started

    def _replaced(self, port: int) -> bool:
        try:
            return port not in self.masters()
        except (redis.RedisError, OSError):
            return False  # the survivors' view is still settling

    def stop(self) -> None:
        for process in self._processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)  # a paused node takes its SIGTERM
                process.terminate()
        for process in self._processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def _replicas_in_sync(self) -> bool:
        try:
            roles = [_client(self.host, p).info("replication") for p in self.alive()]
        except (redis.RedisError, OSError):
            return False
        replicas = [r for r in roles if r.get("role") == "slave"]
        in_sync = all(r.get("master_link_status") == "up" for r in replicas)
        return in_sync and len(replicas) == self.replicas * (len(roles) - len(replicas))

    def _all_answer(self) -> bool:
        """Whether every node answers; raises at once for a node that exited (a port or its
        cluster bus port, port + 10000, taken), naming its log's last line."""
        for port, process in self._processes.items():
            if process.poll() is not None:
                raise StackError(f"the redis cluster node on port {port} exited: "
                                 f"{_last_line(self.home / str(port) / 'redis.log')}")  # fmt: skip
        return all(self._answers(p) for p in self.ports)

    def _answers(self, port: int) -> bool:
        try:
            return bool(_client(self.host, port).ping())
        except (redis.RedisError, OSError):
            return False

    def _wait(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise StackError(f"the redis cluster's {what} did not come up in {timeout_s}s")
            time.sleep(0.1)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError as exc:
        return f"no log ({exc.strerror})"
    return lines[-1] if lines else "an empty log"


def _client(host: str, port: int) -> redis.Redis:
    # No retries: redis-py's default retry with backoff turns "nothing listens" into seconds.
    return redis.Redis(host=host, port=port, socket_timeout=1, socket_connect_timeout=1,
                       retry=Retry(NoBackoff(), 0))  # fmt: skip
