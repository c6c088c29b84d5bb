"""The consumer's thread, and how long a stopping worker may wait on Kafka.

Faust runs aiokafka's consumer in a thread of its own (mode's ``WorkerThread``); this one
does not hold the interpreter at exit, shortens the broker's long poll
(``FETCH_MAX_WAIT_MS``), stops within the worker's shared ``StopBudget``, and stops the
worker when the group refuses it (``access_refused``).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol, cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service
from mode.threads import WorkerThread

from streams.adapters.faust.access_refused import stop_worker, take_group_error
from streams.core.errors import AccessRefused

__all__ = [
    "CONSUMER_STOP_S",
    "FETCH_MAX_WAIT_MS",
    "BatchConsumerThread",
    "StopBudget",
    "StopRoutes",
]

logger = logging.getLogger(__name__)

#: Short enough to be hidden by the chunks waiting in the channel, long enough that an idle
#: worker sends only a few fetch requests a second.
FETCH_MAX_WAIT_MS = 100

#: How long a stopping worker waits for Kafka: its last commit and its consumer thread's
#: stop (``BatchConsumerThread``) together (``StopBudget``).
CONSUMER_STOP_S = 5.0
#: A step of the stop is never given less: what answering brokers do in milliseconds.
_MIN_STEP_S = 1.0


class StopBudget:
    """``CONSUMER_STOP_S``, spent once by a stopping worker's steps that wait on Kafka: the
    last commit (``BatchApp._consumer_wait_empty``), then the consumer thread's own commit
    and LeaveGroup. Each used to wait 5 s of its own: with no broker answering, a SIGTERMed
    worker took 11 s to stop."""

    def __init__(self, seconds: float = CONSUMER_STOP_S) -> None:
        self.seconds = seconds
        self._deadline: float | None = None

    def left(self) -> float:
        """The seconds the next step may wait; the clock starts at the first step."""
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self.seconds
        return max(self._deadline - now, _MIN_STEP_S)


class StopRoutes(Protocol):
    """What the thread reads of its app (``batch_app.BatchApp``): the stop's budget, and why
    the worker stopped itself, if it did."""

    kafka_stop: StopBudget
    refused: AccessRefused | None


class _DaemonWorkerThread(WorkerThread):
    """mode's thread, but one the interpreter does not wait for at exit: a consumer stuck
    on brokers that do not answer held a stopped worker's process for over a minute."""

    def __init__(self, service: Any, **kwargs: Any) -> None:
        super().__init__(service, **kwargs)
        self.daemon = True


class BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    Worker = _DaemonWorkerThread

    async def stop(self) -> None:
        # mode's default (60 s) is what a stop took with the brokers down, waiting for this
        # thread's last commit and LeaveGroup: past Kubernetes' 30 s grace, so the pod was
        # SIGKILLed. A commit given up is no loss: the next owner reads those records again
        # and the offsets in Redis skip what was applied.
        self.shutdown_timeout = cast(StopRoutes, self.app).kafka_stop.left()
        try:
            await super().stop()
        except TimeoutError:
            # Past the time-out above (the brokers do not answer): one line, not mode's
            # traceback of a child that failed to stop, which reads as a crash.
            logger.warning("the Kafka consumer did not stop within %.1f s (the brokers do "
                           "not answer): its last commit is given up",
                           self.shutdown_timeout)  # fmt: skip

    @Service.timer(1.0)
    async def _group_errors(self) -> None:
        app = cast(StopRoutes, self.app)
        if app.refused is None:
            try:
                take_group_error(self._consumer, self.app.conf.id)
            except AccessRefused as refused:
                stop_worker(app, refused)

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer
