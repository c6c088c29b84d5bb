"""One chaos run: its own topics, group and Redis prefix, its workers, and its clock.

Progress is read where it is durable: the applied offsets the workers write to Redis with
each batch's state (``P:offsets:T``), not the workers' counters, which die with a SIGKILL.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
import redis

from loadtest.chaos_stream import ChaosStream, Kill, Outcome, state_totals
from loadtest.leftovers import forget_run
from streams import stack
from streams.adapters.kafka.records import end_offsets, publish, read_from
from streams.adapters.kafka.roads import direct_slot, home_partition
from streams.adapters.kafka.routing import model_key
from streams.adapters.redis.keys import covered_offsets, fence_keys, parse_sources
from streams.core.errors import DriftlineError
from streams.settings import Settings
from streams.stack.worker import WorkerProcess, free_port, metric_sum, run_names

__all__ = ["ChaosRun", "wait_for"]


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str, every_s: float = 0.1):
    """Poll ``predicate`` until truthy; its value. Raises ``DriftlineError`` on time-out."""
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise DriftlineError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)
    return value


class ChaosRun:
    """Workers and records of one scenario run of ``stream``."""

    def __init__(
        self,
        name: str,
        stream: ChaosStream,
        config: stack.StackConfig,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.stream = stream
        self.config = config
        self.workdir = workdir / name
        self.env = {
            **os.environ,
            **run_names(f"chaos-{name}-{uuid.uuid4().hex[:6]}"),
            "DRIFTLINE_KAFKA_BOOTSTRAP": config.kafka_bootstrap,
            "DRIFTLINE_REDIS_URL": config.redis_url,
            "DRIFTLINE_DATA_DIR": str(self.workdir / "faust"),
            **stream.env(),
            "DRIFTLINE_SPECS_DIR": str(stream.write_specs(self.workdir / "specs")),
            **(extra_env or {}),
        }
        self.settings = Settings.from_env(self.env)
        # A time-out, so a hung Redis (the outage scenario) cannot hang the harness.
        self.redis = redis.Redis.from_url(self.settings.redis_url, socket_timeout=10)
        self.workers: list[WorkerProcess] = []
        self.interrupted = 0  # workers killed or stopped mid-stream: counters not exact
        self.kills: list[Kill] = []
        self.published = 0
        self.ends: dict[int, int] = {}
        self.bad: set[tuple[int, int]] = set()  # where the records to dead-letter went
        # With routing: the last offset of each input partition per model key it carried.
        self.last_routed: dict[tuple[bytes, int], int] = {}
        self.rest: list[tuple[bytes | None, bytes]] = []  # the stream not published yet

    # Workers -------------------------------------------------------------------------------

    def start_worker(self, extra_env: dict[str, str] | None = None) -> WorkerProcess:
        log = self.workdir / f"worker-{len(self.workers)}.log"
        env = self.env | (extra_env or {})
        worker = WorkerProcess(env, web_port=free_port(), log_path=log)
        worker.start()
        self.workers.append(worker)
        return worker

    def kill(self, worker: WorkerProcess, *, read_saved: bool = True) -> None:
        """SIGKILL ``worker``; what its models' state covers is read at once unless
        ``read_saved`` is False (Redis hung): then ``read_saved`` must be called before
        another worker starts."""
        worker.kill()
        self.interrupted += 1
        self.kills.append(Kill(at_ms=int(time.time() * 1000)))
        if read_saved:
            self.read_saved()

    def read_saved(self) -> None:
        """Record what the last killed worker left saved: per model, the last input offset
        per input partition its state covers (the model's fence)."""
        settings = self.settings
        monitored = settings.monitored(settings.topic_predictions)
        saved: dict[str, dict[int, int]] = {}
        for stream in self.stream.models:
            offsets_key, sources_key = fence_keys(settings.redis_prefix, stream.model_id, monitored)
            sources = parse_sources(sources_key, self.redis.hgetall(sources_key))
            covered = covered_offsets(sources, settings.topic_predictions)
            if monitored == settings.topic_predictions:  # keyed: the input's own offsets
                for partition, offset in self.redis.hgetall(offsets_key).items():
                    covered[int(partition)] = max(covered.get(int(partition), -1), int(offset))
            saved[stream.model_id] = covered
        self.kills[-1].saved = saved

    def stop(self, worker: WorkerProcess) -> None:
        """SIGTERM mid-stream: its counter, read before, would miss its last batches."""
        self.interrupted += 1
        if worker.stop() != 0:
            raise DriftlineError(f"a worker of {self.name} did not stop cleanly")

    def live_workers(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.running]

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    # Records -------------------------------------------------------------------------------

    def publish(self, records: list[tuple[bytes | None, bytes]]) -> list[tuple[int, int]]:
        """Publish ``records``; their positions. The end offsets are tracked for ``done``."""
        positions = publish(self.settings.kafka, self.settings.topic_predictions, records)
        if len(positions) != len(records):
            raise DriftlineError(f"{len(records) - len(positions)} records not published")
        self.published += len(positions)
        limit = self.settings.max_message_bytes
        for (partition, offset), (_, value) in zip(positions, records, strict=True):
            self.ends[partition] = max(self.ends.get(partition, 0), offset + 1)
            if len(value) <= limit:  # a larger one the routing stage dead-letters itself
                routed = (model_key(value, max_bytes=limit), partition)
                self.last_routed[routed] = max(self.last_routed.get(routed, -1), offset)
        return positions

    @property
    def routed(self) -> bool:
        """Whether the monitors read a by-model copy of the input (the routing stage)."""
        settings = self.settings
        return settings.monitored(settings.topic_predictions) != settings.topic_predictions

    def applied(self) -> dict[int, int]:
        """Last applied offset per partition of the input topic, as the workers wrote it to
        Redis: the offsets of the topic the monitors read when it is the input itself, else
        (routing) the highest applied source offset over the by-model partitions. In this
        stream each input partition carries one model (and bad records), so its records
        meet in at most two by-model partitions; the highest is the progress to wait for."""
        settings = self.settings
        monitored = settings.monitored(settings.topic_predictions)
        if monitored != settings.topic_predictions:
            applied: dict[int, int] = {}
            for (_, partition), offset in self._applied_sources().items():
                applied[partition] = max(applied.get(partition, -1), offset)
            return applied
        try:
            stored = self.redis.hgetall(f"{settings.redis_prefix}:offsets:{monitored}")
        except redis.RedisError:
            return {}
        return {int(p): int(o) for p, o in stored.items()}

    def _applied_sources(self) -> dict[tuple[int, int], int]:
        """With routing: per (by-model partition, input partition), the last input offset
        applied (every model's low-water mark)."""
        settings = self.settings
        monitored = settings.monitored(settings.topic_predictions)
        key = f"{settings.redis_prefix}:sources:{monitored}"
        try:
            sources = self.redis.hgetall(key)
        except redis.RedisError:
            return {}
        return {
            (slot, partition): offset
            for (slot, topic, partition), offset in parse_sources(key, sources).items()
            if topic == settings.topic_predictions
        }

    def fraction_applied(self) -> float:
        applied = self.applied()
        due = sum(self.ends.values()) or 1
        return sum(applied.get(p, -1) + 1 for p in self.ends) / due

    def wait_fraction(self, fraction: float, timeout_s: float = 300) -> None:
        wait_for(lambda: self.fraction_applied() >= fraction, timeout_s, f"{fraction:.0%} applied")

    def done(self) -> bool:
        if self.routed:
            return self._copies_applied()
        applied = self.applied()
        return all(applied.get(p, -1) >= end - 1 for p, end in self.ends.items())

    def _copies_applied(self) -> bool:
        """With routing, whether each by-model partition applied the last record each input
        partition sent it (the router's mapping of model keys), or the router applied it
        itself (direct routing: its ``direct_slot``). The highest applied source
        offset of an input partition says less: after a kill, the by-model partition of its
        bad records may reach its end while the model's records wait to be forwarded
        again. And every copy on the by-model topic applied (its low-water marks at its
        ends): a router keeps a model's copies and direct records in order, but if it did
        not, the direct fence could reach the end with copies still on their way, and the
        run would be judged on a state not yet whole (RELIABILITY finding 27)."""
        applied = self._applied_sources()
        if not applied:
            return False
        settings = self.settings
        monitored = settings.monitored(settings.topic_predictions)
        ends = end_offsets(settings.kafka, monitored)
        partitions = len(ends)
        try:
            marks = self.redis.hmget(f"{settings.redis_prefix}:offsets:{monitored}", list(ends))
        except redis.RedisError:
            return False
        if any(int(mark or -1) < end - 1 for mark, end in zip(marks, ends.values(), strict=True)):
            return False

        def reached(key: bytes, partition: int) -> int:
            target = home_partition(key, partitions)
            found = applied.get((target, partition), -1)
            if target == partition:  # DRIFTLINE_ROUTING=direct applies these where read
                found = max(found, applied.get((direct_slot(partition), partition), -1))
            return found

        return all(
            reached(key, partition) >= last for (key, partition), last in self.last_routed.items()
        )

    def wait_done(self, timeout_s: float) -> None:
        wait_for(self.done, timeout_s, f"every record of {self.name} applied", every_s=0.25)

    def time_to_resume(
        self,
        partitions: Iterable[int] | None = None,
        *,
        since: float | None = None,
        before: dict[int, int] | None = None,
        timeout_s: float = 180,
    ) -> float:
        """Seconds from ``since`` (now) until the applied offset of any of ``partitions``
        (all by default) moves past ``before`` (where it is now): the first progress."""
        started = time.monotonic() if since is None else since
        before = self.applied() if before is None else before
        # Only partitions with records left to apply can move; none left: nothing to resume.
        chosen = {
            p
            for p in (self.ends if partitions is None else partitions)
            if before.get(p, -1) < self.ends.get(p, 0) - 1
        }
        if not chosen:
            return 0.0

        def moved() -> bool:
            now = self.applied()
            return any(now.get(p, -1) > before.get(p, -1) for p in chosen)

        wait_for(moved, timeout_s, "progress after the fault", every_s=0.05)
        return time.monotonic() - started

    # Outcome -------------------------------------------------------------------------------

    def outcome(self) -> Outcome:
        """What the run left; the workers' counters count only if none was interrupted."""
        processed = forgotten = None
        if not self.interrupted:
            processed = int(metric_sum(self.live_workers(), "driftline_events_processed_total"))
            forgotten = int(
                metric_sum(
                    self.live_workers(), "driftline_events_processed_total", model="_forgotten"
                )
            )
        settings = self.settings
        totals = state_totals(self.redis, settings.redis_prefix, self.stream.window_events)
        alerts = self._read_all(settings.topic_alerts)
        return Outcome(
            totals=totals,
            dead_letters=self._read_all(settings.topic_dlq),
            alerts=[orjson.loads(r.value) for r in alerts],
            processed=processed,
            forgotten=forgotten,
            alert_sent_ms=[r.timestamp_ms for r in alerts],
        )

    def dead_lettered(self) -> set[tuple[int, int]]:
        """(partition, offset) of every input record on the dead-letter topic now."""
        letters = Outcome(totals={}, dead_letters=self._read_all(self.settings.topic_dlq),
                          alerts=[], processed=None)  # fmt: skip
        return set(letters.dead_offsets)

    def _read_all(self, topic: str) -> list:
        ends = end_offsets(self.settings.kafka, topic)
        due = sum(ends.values())
        records = read_from(
            self.settings.kafka, topic, dict.fromkeys(ends, 0), count=due, timeout_s=60
        )
        if len(records) != due:
            raise DriftlineError(f"read {len(records)} of the {due} records on {topic}")
        return records

    def clean(self) -> None:
        """Delete this run's Redis keys and topics: full-size runs would fill the disk."""
        forget_run(self.settings)
