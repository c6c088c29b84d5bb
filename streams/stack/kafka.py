"""A single-node Apache Kafka broker in KRaft mode, run from jars in the cache."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.stack import maven, templates
from streams.stack.config import StackConfig
from streams.stack.errors import StackError
from streams.stack.service import Log, Service, port_open

_START_TIMEOUT = 60.0


def service(config: StackConfig) -> Service:
    """Describe the broker of ``config`` for ``streams.stack.service``."""
    home = _home(config)
    return Service(
        name="kafka",
        host=config.host,
        port=config.kafka_port,
        pid_file=home / "kafka.pid",
        log_file=home / "kafka.log",
        # The broker's command line ends with our properties file, unique per state dir.
        marker=str(home / "server.properties"),
        answers=lambda timeout: answers(config.host, config.kafka_port, timeout),
        prepare=lambda log: _prepare(config, log),
        start_timeout=_START_TIMEOUT,
    )


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
    return config.state_dir / "kafka"


def _prepare(config: StackConfig, log: Log) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise StackError("kafka: java is not on PATH; the broker needs Java 17 or newer")
    # Kafka would start, fail to bind the controller port and bury why in a stack trace.
    if port_open(config.host, config.kafka_controller_port, 1.0):
        raise StackError(
            f"kafka: controller port {config.host}:{config.kafka_controller_port} is taken;"
            " free it or set DRIFTLINE_KAFKA_CONTROLLER_PORT"
        )
    libs = maven.kafka_libs(config, log)
    home = _home(config)
    data_dir = home / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    properties = home / "server.properties"
    properties.write_text(
        templates.render(
            "server.properties",
            host=config.host,
            port=config.kafka_port,
            controller_port=config.kafka_controller_port,
            data_dir=data_dir,
        )
    )
    log4j = home / "log4j2.yaml"
    log4j.write_text(templates.read("log4j2.yaml"))
    classpath = [f"-Dlog4j2.configurationFile={log4j}", "-cp", str(libs / "*")]
    # KRaft refuses to start on an unformatted log dir, and formatting twice is an error.
    if not (data_dir / "meta.properties").exists():
        _format([java, *classpath], properties, home / "format.log", log)
    jvm = [
        f"-Xmx{config.kafka_heap}",
        f"-Xms{config.kafka_heap}",
        # A JVM crash report would otherwise land in whatever directory `up` ran in.
        f"-XX:ErrorFile={home / 'hs_err_pid%p.log'}",
    ]
    return [java, *jvm, *classpath, "kafka.Kafka", str(properties)]


def _format(jvm: list[str], properties: Path, log_file: Path, log: Log) -> None:
    cluster_id = _random_cluster_id()
    argv = [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    log_file.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        output = "\n".join(log_file.read_text().strip().splitlines()[-20:])
        raise StackError(
            f"kafka: formatting the data dir failed (exit {done.returncode}); log: {log_file}\n"
            f"{output}"
        )
    log(f"kafka: formatted a new data dir for cluster {cluster_id}")


def _random_cluster_id() -> str:
    # What `kafka-storage.sh random-uuid` prints (Kafka's Uuid: 16 random bytes, URL-safe
    # base64 without padding, never starting with "-"), minus a JVM start.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text
