"""HealthCheck against servers that are not there: real clients, real connection failures."""

from __future__ import annotations

import asyncio
import socket

import redis.asyncio as aioredis

from streams.adapters.faust.health import HealthCheck, StreamLiveness
from streams.kafka_config import KafkaConfig


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket is closed


def test_unreachable_kafka_and_redis_make_the_worker_unhealthy():
    async def report():
        client = aioredis.Redis(port=closed_port(), socket_connect_timeout=0.5)
        try:
            check = HealthCheck(
                kafka=KafkaConfig(f"127.0.0.1:{closed_port()}"),
                redis_client=client,
                liveness=StreamLiveness(joined=True),
                timeout_s=0.5,
            )
            return await check.report()
        finally:
            await client.aclose()

    healthy, checks = asyncio.run(report())
    assert healthy is False
    assert checks["kafka"]["ok"] is False and checks["kafka"]["error"]
    assert checks["redis"]["ok"] is False and checks["redis"]["error"]
    assert checks["stream"] == {
        "ok": True,
        "joined": True,
        "batches": 0,
        "last_batch_at": None,
        "error": None,
        "partitions": [],
    }


def test_liveness_counts_batches():
    liveness = StreamLiveness()
    liveness.batch_done()
    liveness.batch_done()
    assert liveness.batches == 2 and liveness.last_batch_at is not None


def test_the_stream_is_ready_only_once_the_worker_has_joined_its_group():
    live = StreamLiveness()
    assert live.report()["ok"] is False  # started, consuming nothing yet
    live.joined = True
    assert live.report()["ok"] is True
    live.failure = "RuntimeError('boom')"
    assert live.report() | {"last_batch_at": None} == {
        "ok": False, "joined": True, "batches": 0, "last_batch_at": None,
        "error": "RuntimeError('boom')", "partitions": [],
    }  # fmt: skip
