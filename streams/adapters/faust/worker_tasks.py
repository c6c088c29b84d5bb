"""The worker's timers and background tasks beside its agents: waiting labels retried, specs
stored and picked up, partitions' lag and health sampled, a Redis that evicts keys warned of
at start, and state Redis lost saved again. ``build_worker`` adds them in its order."""

from __future__ import annotations

import contextlib
import functools
import logging

import faust
import redis.asyncio as aioredis
from faust.types import TP

from streams.adapters.faust.batch_app import BatchApp
from streams.adapters.faust.direct import highwater
from streams.adapters.faust.health import HealthCheck
from streams.adapters.faust.labels import LabelService
from streams.adapters.faust.progress import PartitionProgress
from streams.adapters.faust.services import WorkerServices
from streams.adapters.faust.spec_sync import sync_specs
from streams.adapters.outage_log import OutageLogFilter
from streams.adapters.prometheus.metrics import IngestMetrics
from streams.adapters.redis.eviction import eviction_warning
from streams.core.contract.pii import PiiPolicy
from streams.core.contract.spec import ModelSpec
from streams.settings import Settings

__all__ = ["HEALTH_SAMPLE_S", "add_eviction_warning", "add_health_sampling",
           "add_label_retries", "add_lost_state_restore", "add_progress_watch",
           "add_spec_sync"]  # fmt: skip

logger = logging.getLogger(__name__)

#: Loggers that repeat one line per reconnect attempt during a Kafka outage.
_NOISY_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.consumer.group_coordinator",
                  "aiokafka.consumer.fetcher", "aiokafka.producer.sender")  # fmt: skip


def add_label_retries(app: BatchApp, settings: Settings, label_service: LabelService) -> None:
    """Retry the labels waiting for their prediction every ``label_retry_s``."""

    @app.timer(settings.label_retry_s)
    async def retry_waiting_labels() -> None:
        try:
            await label_service.retry_waiting()
        except Exception:
            logger.exception("retrying waiting labels failed; next round will try again")


def add_eviction_warning(app: BatchApp, client: aioredis.Redis) -> None:
    @app.task
    async def check_redis_eviction() -> None:
        warning = await eviction_warning(client)
        if warning is not None:
            logger.warning(warning)


def add_lost_state_restore(app: BatchApp, settings: Settings, services: WorkerServices) -> None:
    """Every ``lost_state_check_s``: what Redis lost of the state this worker saved (a model
    with no later event would keep none), saved again. Models saved longer ago than half
    ``state_ttl_s`` are left out: their keys may have expired."""

    @app.timer(settings.lost_state_check_s)
    async def restore_lost_state() -> None:
        for service in (services.ingestion, services.label_service):
            try:
                await service.restore_lost(settings.state_ttl_s / 2)
            except Exception:
                logger.exception("checking for lost state failed; next round will try again")


def add_spec_sync(
    app: BatchApp,
    settings: Settings,
    services: WorkerServices,
    file_specs: list[ModelSpec],
    pii: PiiPolicy,
) -> None:
    """Store ``file_specs`` at start; every ``spec_refresh_s`` pick up the specs other
    workers or operators stored (a batch stores the specs it inferred itself)."""
    spec_store, registry, metrics = services.spec_store, services.registry, services.metrics
    writer = services.ingestion.writer

    @app.task
    async def store_file_specs() -> None:
        # Retried while Redis does not answer: the other workers and the report read them.
        for spec in file_specs:
            await writer.until_done("redis", functools.partial(spec_store.save, spec, replace=True))

    @app.timer(settings.spec_refresh_s)
    async def refresh_specs() -> None:
        await sync_specs(spec_store, registry, pii)
        metrics.models_known.set(registry.model_count)


def add_progress_watch(
    app: BatchApp, progress: PartitionProgress, metrics: IngestMetrics, topics: set[str]
) -> None:
    """Track the held partitions of ``topics``; sample their lag into ``progress`` and the
    gauges; keep aiokafka's reconnect errors to one line per outage."""
    log_filter = OutageLogFilter()
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).addFilter(log_filter)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # typed (sender, *args)
    async def track(sender: faust.App, assigned: set[TP], **kwargs: object) -> None:
        progress.assign((tp.topic, tp.partition) for tp in assigned if tp.topic in topics)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # typed (sender, *args)
    async def untrack(sender: faust.App, revoked: set[TP], **kwargs: object) -> None:
        gone = [(tp.topic, tp.partition) for tp in revoked if tp.topic in topics]
        progress.revoke(gone)
        for topic, partition in gone:  # label sets only for partitions held now
            for gauge in (metrics.consumer_lag, metrics.seconds_since_progress):
                with contextlib.suppress(KeyError):
                    gauge.remove(topic, str(partition))

    @app.timer(min(1.0, progress.stall_s / 4))
    async def sample_lag() -> None:
        log_filter.flush()
        for topic, partition in progress.held:
            progress.observe((topic, partition), highwater(app, TP(topic, partition)))
            lag = progress.lag((topic, partition))
            if lag is not None:
                metrics.consumer_lag.labels(topic, str(partition)).set(lag)
            seconds = progress.seconds_since_progress((topic, partition))
            metrics.seconds_since_progress.labels(topic, str(partition)).set(seconds)


#: How often the health checks run for ``driftline_health_check_up`` between /health probes.
HEALTH_SAMPLE_S = 5.0


def add_health_sampling(app: BatchApp, health: HealthCheck) -> None:
    """Run the /health checks on a timer too, so the gauges move without a prober."""

    @app.timer(HEALTH_SAMPLE_S)
    async def sample_health() -> None:
        await health.report()
