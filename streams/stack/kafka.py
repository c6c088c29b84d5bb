"""A single-node Apache Kafka broker in KRaft mode, run from jars in the cache."""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.stack import maven, templates, tls
from streams.stack.config import StackConfig
from streams.stack.errors import StackError
from streams.stack.service import Log, Service, port_open

_START_TIMEOUT = 60.0
# The SCRAM user a secure stack creates at format time; its password is in the state dir.
SCRAM_USER = "driftline"


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
        answers=lambda timeout: (
            answers(config.host, config.kafka_port, timeout)
            and (not config.secure or port_open(config.host, config.kafka_secure_port, timeout))
        ),
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
    # A secure broker keeps its own data dir: SCRAM users can only be added when a data dir
    # is formatted, and the plain stack's was formatted without them.
    return config.state_dir / ("kafka-secure" if config.secure else "kafka")


def secure_client_files(config: StackConfig) -> tuple[Path, Path]:
    """``(CA PEM, file holding the password of SCRAM_USER)`` of a secure stack."""
    home = _home(config)
    return home / "tls" / "ca.pem", home / "sasl-password"


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
    values = {
        "host": config.host,
        "port": config.kafka_port,
        "controller_port": config.kafka_controller_port,
        "data_dir": data_dir,
    }
    text = templates.render("server.properties", **values)
    if config.secure:
        text += _secure_listener(config, values)
    properties.write_text(text)
    log4j = home / "log4j2.yaml"
    log4j.write_text(templates.read("log4j2.yaml"))
    classpath = [f"-Dlog4j2.configurationFile={log4j}", "-cp", str(libs / "*")]
    # KRaft refuses to start on an unformatted log dir, and formatting twice is an error.
    if not (data_dir / "meta.properties").exists():
        extra = _scram_user(config) if config.secure else []
        _format([java, *classpath], properties, home / "format.log", log, extra)
    jvm = [
        f"-Xmx{config.kafka_heap}",
        f"-Xms{config.kafka_heap}",
        # A JVM crash report would otherwise land in whatever directory `up` ran in.
        f"-XX:ErrorFile={home / 'hs_err_pid%p.log'}",
    ]
    return [java, *jvm, *classpath, "kafka.Kafka", str(properties)]


def _secure_listener(config: StackConfig, values: dict[str, object]) -> str:
    files = tls.broker_tls(_home(config) / "tls", config.host)
    return templates.render(
        "secure-listener.properties",
        **values,
        secure_port=config.kafka_secure_port,
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


def _format(jvm: list[str], properties: Path, log_file: Path, log: Log, extra: list[str]) -> None:
    cluster_id = _random_cluster_id()
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
    log(f"kafka: formatted a new data dir for cluster {cluster_id}")


def _random_cluster_id() -> str:
    # What `kafka-storage.sh random-uuid` prints (Kafka's Uuid: 16 random bytes, URL-safe
    # base64 without padding, never starting with "-"), minus a JVM start.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text
