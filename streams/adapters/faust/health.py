"""What ``/health`` reports: can this worker reach Kafka and Redis (and write to them: a
server that answers may refuse every write), is its stream alive, and is every partition it
holds moving (``PartitionProgress``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from redis.exceptions import RedisError

from streams.adapters.durable import DurableWriter
from streams.adapters.faust.progress import PartitionProgress
from streams.kafka_config import KafkaConfig

__all__ = ["HealthCheck", "StreamLiveness"]

# Writes failing this long make their server's check fail too (shorter: a blip, retried).
WRITES_FAILING_S = 2.0


@dataclass(slots=True)
class StreamLiveness:
    """Written by the agent: when it last finished a batch, the error that stopped it, which
    partitions of the predictions topic it holds, and whether it has joined its group."""

    batches: int = 0
    last_batch_at: float | None = None
    failure: str | None = None
    partitions: set[int] = field(default_factory=set)
    #: Set once the first assignment is done (even of no partitions): until then the worker
    #: consumes nothing, so it is not ready. Not cleared by later rebalances, which are short
    #: and would make every worker of the group unready at once.
    joined: bool = False

    def batch_done(self) -> None:
        self.batches += 1
        self.last_batch_at = time.time()

    def report(self) -> dict:
        """The stream's part of ``/health``: ok once joined, until the agent fails."""
        return {
            "ok": self.failure is None and self.joined,
            "joined": self.joined,
            "batches": self.batches,
            "last_batch_at": self.last_batch_at,
            "error": self.failure,
            "partitions": sorted(self.partitions),
        }


class HealthCheck:
    """Probe Kafka and Redis with a short timeout each; report the stream's liveness."""

    def __init__(
        self,
        *,
        kafka: KafkaConfig,
        redis_client: aioredis.Redis,
        liveness: StreamLiveness,
        progress: PartitionProgress | None = None,
        timeout_s: float = 2.0,
        on_report: Callable[[dict], None] | None = None,
        writer: DurableWriter | None = None,
    ) -> None:
        """``on_report`` sees every report's checks (the metrics export them); while the
        ``writer``'s writes to Redis (or to a topic) keep failing, the check of Redis (or
        Kafka) fails too, though the server answers."""
        self._writer = writer
        self._admin = AdminClient(kafka.confluent())
        self._redis = redis_client
        self._liveness = liveness
        self._progress = progress
        self._timeout_s = timeout_s
        self._on_report = on_report

    async def report(self) -> tuple[bool, dict]:
        """``(healthy, details)``, details being JSON-ready."""
        kafka, redis = await asyncio.gather(self._kafka(), self._redis_ping())
        failing = {} if self._writer is None else self._writer.failing(for_s=WRITES_FAILING_S)
        checks = {
            "kafka": _writes(kafka, {t: f for t, f in failing.items() if t != "redis"}),
            "redis": _writes(redis, {t: f for t, f in failing.items() if t == "redis"}),
            "stream": self._liveness.report(),
        }
        if self._progress is not None:
            stalls = [stall.to_dict() for stall in self._progress.stalls()]
            checks["progress"] = {"ok": not stalls, "stall_s": self._progress.stall_s,
                                  "stalled": stalls}  # fmt: skip
        if self._on_report is not None:
            self._on_report(checks)
        return all(check["ok"] for check in checks.values()), checks

    async def _kafka(self) -> dict:
        try:
            metadata = await asyncio.to_thread(self._admin.list_topics, timeout=self._timeout_s)
        except KafkaException as exc:
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "brokers": len(metadata.brokers)}

    async def _redis_ping(self) -> dict:
        try:
            await asyncio.wait_for(self._redis.ping(), self._timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            return {"ok": False, "error": str(exc) or type(exc).__name__}
        return {"ok": True}


def _writes(check: dict, failing: dict[str, tuple[float, str]]) -> dict:
    """``check`` of a server that answers, failed while writes to it keep failing."""
    if not check["ok"] or not failing:
        return check
    errors = [f"writes to {target} failing for {age:.0f} s: {error}"
              for target, (age, error) in sorted(failing.items())]  # fmt: skip
    return {**check, "ok": False, "error": "; ".join(errors)}
