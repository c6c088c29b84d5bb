"""streams.stack against a real Kafka broker and Redis server, on non-default ports."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streams.stack import ServiceStatus, StackConfig, StackError, debian, down, process, status, up

pytestmark = pytest.mark.integration

# Not the defaults, so a developer's own stack (or another test run's) is left alone.
PORTS = {
    "DRIFTLINE_KAFKA_PORT": "19192",
    "DRIFTLINE_KAFKA_CONTROLLER_PORT": "19193",
    "DRIFTLINE_REDIS_PORT": "16479",
}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    # Default cache_dir on purpose: the 43 MB of Kafka jars are fetched once per machine.
    state_dir = tmp_path_factory.mktemp("driftline-state")
    cfg = StackConfig.from_env({**PORTS, "DRIFTLINE_STATE_DIR": str(state_dir)})
    yield cfg
    down(cfg, log=lambda _line: None)  # nothing left running, even after a failure


def by_name(statuses: list[ServiceStatus]) -> dict[str, ServiceStatus]:
    return {s.name: s for s in statuses}


def test_up_starts_both_and_is_idempotent(config: StackConfig) -> None:
    first = by_name(up(config))
    assert set(first) == {"kafka", "redis"}
    for s in first.values():
        assert s.running and s.managed and s.pid is not None, s.describe()
        assert s.log_path is not None and s.log_path.is_relative_to(config.state_dir)
    assert first["kafka"].address == config.kafka_bootstrap

    # Same pids: nothing was restarted (a condition, not a clock on a busy machine).
    again = by_name(up(config))
    assert {n: s.pid for n, s in again.items()} == {n: s.pid for n, s in first.items()}
    assert by_name(status(config)) == again


def test_kafka_round_trip(config: StackConfig) -> None:
    up(config)
    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)

    # ~2 MB: the broker must take messages above Kafka's ~1 MB default.
    big = os.urandom(2 * 1024 * 1024)
    # Idempotent: a retried first send (the new topic's leader not known yet) cannot land
    # behind the second (CI saw the two swapped once).
    producer = Producer({"bootstrap.servers": config.kafka_bootstrap, "message.max.bytes": 4194304,
                         "enable.idempotence": True})  # fmt: skip
    producer.produce(topic, key=b"k", value=b"hello")
    producer.produce(topic, key=b"big", value=big)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": config.kafka_bootstrap,
            "group.id": f"{topic}-group",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        received = _consume(consumer, count=2, timeout=30)
    finally:
        consumer.close()
    assert received == [(b"k", b"hello"), (b"big", big)]


def _consume(consumer: Consumer, count: int, timeout: float) -> list[tuple[bytes, bytes]]:
    received: list[tuple[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        received.append((msg.key(), msg.value()))
    return received


def test_redis_set_get(config: StackConfig) -> None:
    up(config)
    with redis.Redis.from_url(config.redis_url) as client:
        client.set("driftline:stack-test", b"value")
        assert client.get("driftline:stack-test") == b"value"


def test_servers_run_by_someone_else_are_used_and_left_alone(
    config: StackConfig, tmp_path: Path
) -> None:
    ours = by_name(up(config))
    # Same ports, another state dir: these servers were not started by *this* config.
    other = replace(config, state_dir=tmp_path / "other-state")
    lines: list[str] = []

    for s in up(other, log=lines.append):
        assert s.running and not s.managed and s.pid is None and s.log_path is None
    assert all("not started by driftline" in line for line in lines), lines
    # Its own state dir made it another password, which that Redis refuses: it says so.
    assert any(line.startswith("redis:") and "refuses the password" in line for line in lines)

    lines.clear()
    down(other, log=lines.append)
    assert all("leaving it running" in line for line in lines), lines
    assert by_name(status(config)) == ours


def test_down_then_up_reuses_the_data(config: StackConfig) -> None:
    up(config)
    with redis.Redis.from_url(config.redis_url) as client:
        client.set("driftline:survives", b"yes")

    for s in down(config):
        assert not s.running and not s.managed and s.pid is None, s.describe()

    # The data dir is formatted already: a second format would fail the start.
    for s in up(config):
        assert s.running and s.managed, s.describe()
    with redis.Redis.from_url(config.redis_url) as client:
        assert client.get("driftline:survives") == b"yes"


def test_up_after_the_processes_died_with_their_pid_files_left(config: StackConfig) -> None:
    before = by_name(up(config))
    for s in before.values():
        assert s.pid is not None
        os.killpg(s.pid, signal.SIGKILL)  # as if the machine had rebooted
    after = by_name(up(config))
    for name, s in after.items():
        assert s.running and s.managed and s.pid != before[name].pid, s.describe()


def test_redis_wants_the_password_from_the_state_dir(config: StackConfig) -> None:
    up(config)
    password_file = config.state_dir / "redis" / "password"
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert password_file.read_text().strip() in config.redis_url
    assert (
        password_file.read_text().strip() not in (config.state_dir / "redis/redis.conf").read_text()
    )
    anonymous = redis.Redis(host=config.host, port=config.redis_port)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    wrong = replace(config, state_dir=config.state_dir / "elsewhere")
    with pytest.raises(redis.AuthenticationError), redis.Redis.from_url(wrong.redis_url) as client:
        client.ping()


def test_an_open_redis_of_ours_from_before_passwords_is_restarted(config: StackConfig) -> None:
    down(config)
    redis_dir = config.state_dir / "redis"
    # What `up` started before the stack had passwords: same pid file, no `user` line.
    old = process.spawn(
        [debian.redis_server(print), "--bind", config.host, "--port", str(config.redis_port),
         "--dir", str(redis_dir / "data"), "--appendonly", "yes"],
        redis_dir / "redis.log",
        redis_dir / "redis.pid",
    )  # fmt: skip
    with redis.Redis(host=config.host, port=config.redis_port) as open_client:
        _wait(open_client.ping)
        open_client.set("driftline:from-before", b"kept")
    lines: list[str] = []
    statuses = by_name(up(config, log=lines.append))
    assert any("answers without a password; restarting it" in line for line in lines), lines
    assert statuses["redis"].managed and statuses["redis"].pid != old
    with redis.Redis.from_url(config.redis_url) as client:
        assert client.get("driftline:from-before") == b"kept"


def _wait(probe, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except redis.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def test_a_taken_port_is_reported(config: StackConfig, tmp_path: Path) -> None:
    up(config)
    # Kafka's port is held by Redis, which does not answer as Kafka.
    clash = replace(
        config,
        state_dir=tmp_path / "clash",
        kafka_port=config.redis_port,
        redis_port=config.redis_port + 1,
    )
    with pytest.raises(StackError, match=r"kafka: .* is taken"):
        up(clash, log=lambda _line: None)


def test_config_from_env_validates(tmp_path: Path) -> None:
    assert StackConfig.from_env({}).kafka_bootstrap == "127.0.0.1:9092"
    config = StackConfig.from_env({"DRIFTLINE_STATE_DIR": str(tmp_path)})
    url = config.redis_url
    assert url == f"redis://default:{config.redis_password}@127.0.0.1:6379/0"
    assert len(config.redis_password) >= 40 and url == config.redis_url  # generated once
    with pytest.raises(ValueError, match="DRIFTLINE_REDIS_PORT"):
        StackConfig.from_env({"DRIFTLINE_REDIS_PORT": "nope"})
    with pytest.raises(ValueError, match="DRIFTLINE_KAFKA_PORT"):
        StackConfig.from_env({"DRIFTLINE_KAFKA_PORT": "70000"})
    with pytest.raises(ValueError, match="DRIFTLINE_KAFKA_HEAP"):
        StackConfig.from_env({"DRIFTLINE_KAFKA_HEAP": "lots"})
