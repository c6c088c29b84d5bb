"""Apache Kafka in KRaft mode, run from jars in the cache: one node, or a cluster of 3 or 5.

Every node of a cluster is a broker and a controller in one process (combined mode), and
every node is a voter: any single node may die, the active controller included, and the
others keep the quorum and take over its partitions. A dedicated controller beside 3 brokers
would be one more JVM and, alone, a single point of failure. The cluster's internal topics
and its default for new topics are replicated to 3 nodes with ``min.insync.replicas`` 2.
"""

from __future__ import annotations

import base64
import functools
import re
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.stack import maven, process, templates, tls
from streams.stack.config import KafkaNode, StackConfig
from streams.stack.errors import StackError
from streams.stack.service import Log, Service, port_open

_START_TIMEOUT = 60.0
# The SCRAM user a secure stack creates at format time; its password is in the state dir.
SCRAM_USER = "driftline"


def services(config: StackConfig) -> list[Service]:
    """Describe every node of ``config``'s Kafka, node 1 first."""
    return [_node_service(config, node) for node in config.kafka_nodes]


def service(config: StackConfig) -> Service:
    """Describe node 1, the only one unless ``config.kafka_brokers`` is more."""
    return services(config)[0]


def _node_service(config: StackConfig, node: KafkaNode) -> Service:
    home = _node_home(config, node)
    single = config.kafka_brokers == 1
    return Service(
        name="kafka" if single else f"kafka-{node.node_id}",
        host=config.host,
        port=node.port,
        pid_file=home / "kafka.pid",
        log_file=home / "kafka.log",
        # The broker's command line ends with our properties file, unique per state dir.
        marker=str(home / "server.properties"),
        answers=lambda timeout: (
            answers(config.host, node.port, timeout)
            and (not config.secure or port_open(config.host, config.kafka_secure_port, timeout))
        ),
        prepare=lambda log: _prepare(config, node, log),
        start_timeout=_START_TIMEOUT,
        problem=lambda _timeout: stale_settings(config, node),
    )


def stale_settings(config: StackConfig, node: KafkaNode) -> str | None:
    """Why the node answering is not as ``up`` would start it, or None: its properties file
    (the one it was started with; ``up`` writes it only when starting) lacks what this
    version writes. ``up`` then restarts a node of ours, so a setting added since (the 1 s
    session timeout the tests ask for) takes effect without ``down`` first."""
    try:
        started_with = (_node_home(config, node) / "server.properties").read_text()
    except OSError:
        return None  # not ours, or gone: nothing to compare
    if _plain_properties(config, node) in started_with:
        return None
    return "was started with other settings than this version writes (server.properties)"


def stray_nodes(config: StackConfig) -> list[Service]:
    """Live nodes of clusters of another size than ``config``'s in its ``state_dir``.

    ``down`` stops them too and ``status`` lists them, so a cluster started with
    ``--brokers 3`` is seen and stopped without the flag. Their port is read back from the
    properties file they were started with; they are never started from here.
    """
    found = []
    for pid_file in sorted(config.state_dir.glob("kafka-*brokers/node-*/kafka.pid")):
        home = pid_file.parent
        properties = home / "server.properties"
        if process.live_pid(pid_file, str(properties)) is None or _owned(config, home):
            continue
        port = _listener_port(properties)
        found.append(Service(
            name=f"kafka-{home.name.removeprefix('node-')}", host=config.host, port=port,
            pid_file=pid_file, log_file=home / "kafka.log", marker=str(properties),
            answers=functools.partial(answers, config.host, port),
            prepare=_not_startable, start_timeout=0.0,
        ))  # fmt: skip
    return found


def _listener_port(properties: Path) -> int:
    found = re.search(r"^listeners=PLAINTEXT://[^,]*:(\d+)", properties.read_text(), re.M)
    return int(found.group(1)) if found else 0


def _owned(config: StackConfig, home: Path) -> bool:
    return any(_node_home(config, node) == home for node in config.kafka_nodes)


def _not_startable(_log: Log) -> list[str]:
    raise StackError("kafka: a node of another cluster size is only ever stopped")


def answers(host: str, port: int, timeout: float) -> bool:
    """Whether a Kafka broker at ``host:port`` returns metadata listing a broker.

    An open port is not enough: a starting broker listens before it serves requests.
    """
    if not port_open(host, port, min(timeout, 1.0)):
        return False  # spares librdkafka's connection-refused noise
    # log_level 0: failed probes are expected while the broker starts; don't print them.
    admin = AdminClient({"bootstrap.servers": f"{host}:{port}", "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(metadata.brokers)


def _home(config: StackConfig) -> Path:
    # A secure broker keeps its own data dir: SCRAM users can only be added when a data dir
    # is formatted, and the plain stack's was formatted without them.
    return config.state_dir / ("kafka-secure" if config.secure else "kafka")


def _cluster_home(config: StackConfig) -> Path:
    # A cluster's nodes share one cluster id, formatted in; a single node's data dir cannot
    # join them, so each cluster size has data dirs of its own.
    return config.state_dir / f"kafka-{config.kafka_brokers}brokers"


def _node_home(config: StackConfig, node: KafkaNode) -> Path:
    if config.kafka_brokers == 1:
        return _home(config)
    return _cluster_home(config) / f"node-{node.node_id}"


def secure_client_files(config: StackConfig) -> tuple[Path, Path]:
    """``(CA PEM, file holding the password of SCRAM_USER)`` of a secure stack."""
    home = _home(config)
    return home / "tls" / "ca.pem", home / "sasl-password"


def _prepare(config: StackConfig, node: KafkaNode, log: Log) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise StackError("kafka: java is not on PATH; the broker needs Java 17 or newer")
    # Kafka would start, fail to bind the controller port and bury why in a stack trace.
    if port_open(config.host, node.controller_port, 1.0):
        variable = "CONTROLLER_PORT" if node.node_id == 1 else "NODE_PORTS"
        raise StackError(
            f"kafka: controller port {config.host}:{node.controller_port} of node"
            f" {node.node_id} is taken; free it or set DRIFTLINE_KAFKA_{variable}"
        )
    libs = maven.kafka_libs(config, log)
    home = _node_home(config, node)
    data_dir = home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    properties = home / "server.properties"
    text = _plain_properties(config, node)
    if config.secure:
        text += _secure_listener(config, _values(config, node))
    properties.write_text(text)
    log4j = home / "log4j2.yaml"
    log4j.write_text(templates.read("log4j2.yaml"))
    classpath = [f"-Dlog4j2.configurationFile={log4j}", "-cp", str(libs / "*")]
    # KRaft refuses to start on an unformatted log dir, and formatting twice is an error.
    if not (data_dir / "meta.properties").exists():
        extra = _scram_user(config) if config.secure else []
        cluster_id = _random_cluster_id() if config.kafka_brokers == 1 else _cluster_id(config)
        _format([java, *classpath], properties, home / "format.log", log, extra, cluster_id)
    jvm = [
        f"-Xmx{config.kafka_heap}",
        f"-Xms{config.kafka_heap}",
        # A JVM crash report would otherwise land in whatever directory `up` ran in.
        f"-XX:ErrorFile={home / 'hs_err_pid%p.log'}",
    ]
    return [java, *jvm, *classpath, "kafka.Kafka", str(properties)]


def _values(config: StackConfig, node: KafkaNode) -> dict[str, object]:
    """The placeholders of ``server.properties`` for ``node``."""
    return {
        "host": config.host,
        "port": node.port,
        "controller_port": node.controller_port,
        "data_dir": _node_home(config, node) / "data",
        "node_id": node.node_id,
        "voters": ",".join(
            f"{n.node_id}@{config.host}:{n.controller_port}" for n in config.kafka_nodes
        ),
        # One node cannot hold more than one replica; a cluster keeps 3 and needs 2 in sync.
        "replicas": min(config.kafka_brokers, 3),
        "min_isr": 2 if config.kafka_brokers >= 3 else 1,
    }


def _plain_properties(config: StackConfig, node: KafkaNode) -> str:
    # Without the secure listener's part: that one names files made at start.
    return templates.render("server.properties", **_values(config, node))


def _secure_listener(config: StackConfig, values: dict[str, object]) -> str:
    files = tls.broker_tls(_home(config) / "tls", config.host)
    return templates.render(
        "secure-listener.properties",
        **values,
        secure_port=config.kafka_secure_port,
        scram_user=SCRAM_USER,
        keystore=files.keystore,
        truststore=files.truststore,
        store_password=files.store_password,
    )


def _scram_user(config: StackConfig) -> list[str]:
    """StorageTool arguments adding SCRAM_USER, with a new password kept in the state dir."""
    _, password_file = secure_client_files(config)
    password = secrets.token_urlsafe(18)  # URL-safe: no ',' ']' or '=' to escape below
    password_file.write_text(password)
    password_file.chmod(0o600)
    return ["--add-scram", f"SCRAM-SHA-512=[name={SCRAM_USER},password={password}]"]


def _cluster_id(config: StackConfig) -> str:
    """The id all nodes of the cluster are formatted with, made once and kept."""
    path = _cluster_home(config) / "cluster-id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_random_cluster_id())
    return path.read_text().strip()


def _format(
    jvm: list[str], properties: Path, log_file: Path, log: Log, extra: list[str], cluster_id: str
) -> None:
    argv = [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties),
            *extra]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    log_file.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        output = "\n".join(log_file.read_text().strip().splitlines()[-20:])
        raise StackError(
            f"kafka: formatting the data dir failed (exit {done.returncode}); log: {log_file}\n"
            f"{output}"
        )
    log(f"kafka: formatted {properties.parent / 'data'} for cluster {cluster_id}")


def _random_cluster_id() -> str:
    # What `kafka-storage.sh random-uuid` prints (Kafka's Uuid: 16 random bytes, URL-safe
    # base64 without padding, never starting with "-"), minus a JVM start.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text
