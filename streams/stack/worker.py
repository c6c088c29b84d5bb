"""A ``driftline worker`` in a child process, for the demo and the integration tests."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from streams.core.errors import DriftlineError
from streams.settings import Settings

__all__ = [
    "QUICK_SESSION_TIMEOUT_S",
    "WorkerProcess",
    "free_port",
    "kill_leftovers",
    "route_direct_from_the_start",
    "run_names",
]

#: The session timeout of workers that tests and fault runs kill (``DRIFTLINE_SESSION_TIMEOUT_S``):
#: the group hands a dead worker's partitions over after this long. The stack's broker
#: allows it (its ``group.min.session.timeout.ms`` is 1 s; Kafka's default minimum is 6 s).
QUICK_SESSION_TIMEOUT_S = "3"

_TAKEN = ("driftline_events_processed_total{", "driftline_events_rejected_total{")
#: The worker processes started here and not stopped yet (each in a session of its own, so
#: they outlive this process unless stopped).
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def kill_leftovers() -> list[int]:
    """SIGKILL the workers started here that nobody stopped (a test that failed before its
    ``stop``); their pids."""
    left = [process for process in _STARTED.values() if process.poll() is None]
    for process in left:
        process.kill()
        process.wait()
    _STARTED.clear()
    return [process.pid for process in left]


class WorkerProcess:
    """Start, watch and stop one worker; read its /health and /metrics.

    Parameters
    ----------
    environ
        The child's environment: ``DRIFTLINE_*`` settings included.
    web_port
        Where its /health and /metrics answer.
    log_path
        Receives the child's output.
    """

    def __init__(self, environ: Mapping[str, str], *, web_port: int, log_path: Path) -> None:
        self.environ = {**environ, "DRIFTLINE_WEB_PORT": str(web_port)}
        self.base_url = f"http://127.0.0.1:{web_port}"
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout_s: float = 90.0) -> None:
        """Start the worker and wait until its /health says healthy."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _STARTED[self._process.pid] = self._process
        deadline, last = time.monotonic() + timeout_s, "no answer"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DriftlineError(
                    f"the worker exited ({self._process.returncode}); {self._tail()}"
                )
            try:
                status, body = self.health()
                if status == 200:
                    return
                last = f"{status} {orjson.dumps(body).decode()}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.1)  # tests start a hundred workers: each waits ~50 ms past healthy
        self.stop()
        raise DriftlineError(f"the worker was not healthy after {timeout_s:.0f}s (last /health: "
                             f"{last}); {self._tail()}")  # fmt: skip

    def wait_for_partitions(self, *, timeout_s: float = 60.0) -> list[int]:
        """Wait until the worker holds partitions of its topic (it is consuming); them."""
        deadline = time.monotonic() + timeout_s
        while not (partitions := self.health()[1]["stream"]["partitions"]):
            if time.monotonic() > deadline:
                raise DriftlineError(f"no partition assigned after {timeout_s:.0f}s")
            time.sleep(0.2)
        return partitions

    def stop(self, *, timeout_s: float = 30.0) -> int | None:
        """Stop it gracefully (SIGTERM lets Faust commit and leave the group); its exit code."""
        process = self._release()
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.terminate()
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to commit offsets or leave the group."""
        process = self._release()
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def _release(self) -> subprocess.Popen[bytes] | None:
        """This handle's process, no longer this handle's (nor a leftover to kill)."""
        process, self._process = self._process, None
        if process is not None:
            _STARTED.pop(process.pid, None)
        return process

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def health(self) -> tuple[int, dict]:
        """``(HTTP status, body)`` of /health."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=5) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, orjson.loads(error.read())

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of /metrics, keyed by (name, sorted labels)."""
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(self._metrics_page())
            for sample in family.samples
        }

    def events_taken(self) -> int:
        """Events processed or rejected so far, from one scrape of /metrics.

        Only the two counters' lines are read: the whole page parsed is ~0.1 s of the
        caller's CPU at 32 model versions, and load tests ask every second while timed.
        """
        return int(sum(float(line.rsplit(" ", 1)[1])
                       for line in self._metrics_page().splitlines()
                       if line.startswith(_TAKEN)))  # fmt: skip

    def _metrics_page(self) -> str:
        request = urllib.request.Request(f"{self.base_url}/metrics")
        if token := self.environ.get("DRIFTLINE_WEB_TOKEN"):
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read().decode()

    def metric_total(self, name: str, **labels: str) -> float:
        """Sum of ``name`` over the samples whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.metrics().items()
            if sample == name and wanted <= set(sample_labels)
        )

    def _tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "no log"
        return f"last lines of {self.log_path}:\n" + "\n".join(text)


def metric_sum(workers: Iterable[WorkerProcess], name: str, **labels: str) -> float:
    """``metric_total`` summed over ``workers``: a consumer group's counter."""
    return sum(worker.metric_total(name, **labels) for worker in workers)


def free_port() -> int:
    """A loopback port nothing listens on right now, for a worker's web server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: Below Linux's ephemeral range (32768-60999): a port found free there can be taken before
#: a server binds it by any client's outgoing connection (a 3-node Kafka's controller port
#: was, in the CI of e01c0d3). Above the Redis Cluster's node and bus ports.
_RUN_PORTS = range(23000, 32768)


def free_port_run(count: int, host: str = "127.0.0.1") -> int:
    """The first of ``count`` consecutive ports that can be bound now, outside the ephemeral
    range (``_RUN_PORTS``), for servers started next (a test's Kafka nodes)."""
    for first in range(_RUN_PORTS.start, _RUN_PORTS.stop - count + 1, count):
        if all(port_is_free(host, first + i) for i in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports in {_RUN_PORTS}")


def port_is_free(host: str, port: int) -> bool:
    """Whether ``port`` can be bound on ``host`` now."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def run_names(run: str) -> dict[str, str]:
    """Settings that give one run its own topics, consumer group and Redis prefix, so runs
    (demos, tests, benchmarks) never see each other's records or state."""
    return {
        "DRIFTLINE_APP_ID": f"driftline-{run}",
        "DRIFTLINE_REDIS_PREFIX": f"driftline-{run}",
        "DRIFTLINE_TOPIC_PREDICTIONS": f"predictions-{run}",
        "DRIFTLINE_TOPIC_LABELS": f"labels-{run}",
        "DRIFTLINE_TOPIC_ALERTS": f"alerts-{run}",
        "DRIFTLINE_TOPIC_DLQ": f"predictions-dlq-{run}",
        "DRIFTLINE_TOPIC_LABELS_DLQ": f"labels-dlq-{run}",
        "DRIFTLINE_TOPIC_RETRAIN": f"retrain-requests-{run}",
    }


def route_direct_from_the_start(environ: Mapping[str, str]) -> None:
    """The roads of a group that has routed direct since its first record, for a run over
    a topic filled before its workers start: the first switch to direct starts at the
    high-water mark (``streams/adapters/kafka/roads.py``), so that backlog would be copied
    once. Nothing unless the run's routing is ``direct``."""
    settings = Settings.from_env(environ)
    if settings.routing != "direct":
        return
    # Imported here: the demo and the CLI's help need no Redis client.
    from streams.adapters.kafka.roads import direct_road
    from streams.adapters.redis.client import connect
    from streams.adapters.redis.road_store import RedisRoads

    async def claim() -> None:
        client = connect(settings.redis_url, socket_timeout=5)
        roads = RedisRoads(client, prefix=settings.redis_prefix, topic=settings.topic_predictions)
        try:
            for partition in range(settings.partitions):
                await roads.claim(partition, 0, direct_road(settings.partitions))
        finally:
            await client.aclose()

    asyncio.run(claim())
